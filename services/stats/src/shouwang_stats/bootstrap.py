"""Stats' composition root: settings → pool, broker, consumers, the rebuild a start may need,
and the chores."""

from __future__ import annotations

import logging

import asyncpg
from shouwang_servicekit.app import starting
from shouwang_servicekit.kafka.progress import LAG_INTERVAL_SECONDS
from shouwang_servicekit.tasks import BackgroundTasks

from . import metrics
from .adapters import generations
from .adapters.replay import TopicLog
from .config import StatsSettings
from .container import Stats
from .entrypoints.consumers import register_consumers
from .entrypoints.scheduler import needs_rebuild, outcome_gauges, rebuild_now
from .service_layer.events import TOPICS
from .service_layer.rebuild import PROJECTION_VERSION

logger = logging.getLogger("shouwang.stats")

# How often this year's outcome gauges are counted again (a few queries; the figures move slowly).
OUTCOME_GAUGES_SECONDS = 60.0


async def bootstrap(settings: StatsSettings) -> Stats:
    """Connect, make sure a generation is active, subscribe, rebuild if the rules or the
    database ask for it, and start the chores."""
    async with starting() as stack:  # a failed start leaves nothing open
        pool = await asyncpg.create_pool(
            settings.database_url.get_secret_value(),
            min_size=settings.db_pool_min,
            max_size=settings.db_pool_max,
        )
        stack.push_async_callback(pool.close)
        # Its own two connections, for the cells a year hides: readers hold theirs meanwhile.
        writer = await asyncpg.create_pool(
            settings.database_url.get_secret_value(), min_size=0, max_size=2
        )
        stack.push_async_callback(writer.close)
        async with pool.acquire() as conn:
            active = await generations.ensure_active(conn, PROJECTION_VERSION)
        kafka = settings.kafka_clients("stats")
        stats = Stats(
            settings, pool, kafka.broker(linger_ms=5), TopicLog(kafka, TOPICS), writer, stack
        )
        register_consumers(stats)
        tasks = BackgroundTasks()
        stack.push_async_callback(tasks.close)
        await stats.broker.start()
        stack.push_async_callback(stats.broker.stop)
        if settings.rebuild_on_start and needs_rebuild(active):
            logger.info(
                "generation %d (rules v%d, rebuilt: %s) needs a rebuild to rules v%d",
                active.generation,
                active.version,
                active.replayed is not None,
                PROJECTION_VERSION,
            )
            tasks.start(rebuild_now(stats), name="rebuild")
        tasks.every(OUTCOME_GAUGES_SECONDS, outcome_gauges(stats), name="outcome-gauges")
        tasks.every(LAG_INTERVAL_SECONDS, metrics.PROGRESS.measure, name="consumer-lag")
        return stats
