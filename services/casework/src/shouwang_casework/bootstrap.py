"""Casework's composition root: settings → pool, broker, keys, consumers, relay and chores."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from shouwang_servicekit.app import starting
from shouwang_servicekit.kafka.progress import LAG_INTERVAL_SECONDS
from shouwang_servicekit.processed import ProcessedEvents
from shouwang_servicekit.resources import open_pool
from shouwang_servicekit.tasks import BackgroundTasks, Chore

from . import metrics
from .adapters.outbox import outbox_relay
from .config import CaseworkSettings
from .container import Casework
from .entrypoints.consumers import register_case_consumers, register_notification_consumer
from .entrypoints.record_consumers import register_record_consumers
from .entrypoints.scheduler import (
    GAUGES_INTERVAL_SECONDS,
    case_gauges,
    closed_file_retention,
    follow_up_reminders,
)
from .service_layer.erasure import leaver_roster_chore, roster_import_chore

# How often published outbox rows older than CASEWORK_OUTBOX_KEEP_DAYS are purged.
PURGE_EVERY_SECONDS = 600.0


async def bootstrap(settings: CaseworkSettings) -> Casework:
    """Connect to PostgreSQL and Kafka, subscribe the consumers and start the loops."""
    cipher, pseudonymizer = settings.note_cipher(), settings.pseudonymizer()
    async with starting() as stack:  # a failed start leaves nothing open
        pool = await open_pool(
            stack,
            settings.database_url,
            min_size=settings.db_pool_min,
            max_size=settings.db_pool_max,
        )
        broker = settings.kafka_clients("casework").broker(linger_ms=2)
        casework = Casework(
            settings, pool, broker, cipher, pseudonymizer, settings.placement_hasher(), stack
        )
        if settings.consumers_enabled:
            register_case_consumers(casework)
            register_notification_consumer(casework)
            register_record_consumers(casework)
        await broker.start()
        stack.push_async_callback(broker.stop)
        tasks = BackgroundTasks()
        # Stopped first, then the consumers (so no handler runs on a closed pool), then the pool.
        stack.push_async_callback(tasks.close)
        if settings.relay_enabled:
            relay = outbox_relay(
                pool,
                broker,
                batch=settings.relay_batch,
                poll_seconds=settings.relay_idle_seconds,
            )
            casework.relay = relay
            tasks.start(relay.run(), name="outbox-relay")
            tasks.every(
                PURGE_EVERY_SECONDS,
                _purge(relay.purge_published, settings.outbox_keep_days),
                name="outbox-purge",
            )
        tasks.every(
            settings.reminder_interval_seconds,
            follow_up_reminders(casework),
            name="follow-up-reminders",
        )
        tasks.every(GAUGES_INTERVAL_SECONDS, case_gauges(casework), name="case-gauges")
        tasks.every(
            settings.retention_interval_seconds,
            closed_file_retention(casework),
            name="closed-file-retention",
        )
        tasks.every(
            settings.retention_interval_seconds,
            leaver_roster_chore(
                pool, settings.campuses, settings.leaver_roster_days, settings.retention_batch
            ),
            name="leaver-roster-retention",
        )
        tasks.every(
            settings.retention_interval_seconds,
            roster_import_chore(
                pool,
                settings.campuses,
                settings.roster_import_error_days,
                settings.roster_import_days,
                settings.retention_batch,
            ),
            name="roster-import-retention",
        )
        if settings.consumers_enabled:
            tasks.every(LAG_INTERVAL_SECONDS, metrics.PROGRESS.measure, name="consumer-lag")
        ProcessedEvents(
            pool,
            schema="casework",
            campus_setting="shouwang.campus_id",
            campuses=lambda: settings.campuses,
        ).forget_hourly(tasks)
        return casework


def _purge(purge: Callable[[timedelta], Awaitable[int]], keep_days: int) -> Chore:
    async def chore() -> bool:
        await purge(timedelta(days=keep_days))
        return False

    return chore
