"""Background work: the rebuild a start may need, and the outcome gauges of /metrics."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from shouwang_servicekit.tasks import Chore

from .. import metrics
from ..adapters import generations
from ..adapters.figures import NoProjection, reading
from ..container import Stats
from ..service_layer.outcome_gauges import outcome_families
from ..service_layer.rebuild import PROJECTION_VERSION, rebuild

logger = logging.getLogger("shouwang.stats.scheduler")


async def rebuild_now(stats: Stats) -> None:
    """Rebuild the projection from the topics (one replica at a time), counting the result."""
    try:
        done = await rebuild(
            stats.pool,
            stats.log,
            workers=stats.settings.rebuild_workers,
            database_url=stats.settings.database_url.get_secret_value(),
        )
    except Exception:
        metrics.REBUILDS.labels("failed").inc()
        logger.exception("rebuilding the projection failed; the previous one still answers")
        return
    if done is None:
        metrics.REBUILDS.labels("skipped").inc()
        return
    metrics.REBUILDS.labels("succeeded").inc()
    metrics.LAST_REBUILD_SECONDS.set(done.seconds)
    metrics.LAST_REBUILD_RECORDS.set(done.records)


def needs_rebuild(active: generations.Generation) -> bool:
    """Built by older rules, or never rebuilt from the topics (a fresh database)."""
    return active.version < PROJECTION_VERSION or active.replayed is None


def outcome_gauges(stats: Stats) -> Chore:
    """Refresh this year's outcome gauges and the generation gauge."""
    settings = stats.settings

    async def refresh() -> bool:
        async with stats.pool.acquire() as conn:
            active = await generations.active(conn)
        metrics.GENERATION.clear()
        if active is not None:
            metrics.GENERATION.labels(str(active.version)).set(active.generation)
        try:
            async with reading(stats.pool, stats.writer) as source:
                families = await outcome_families(
                    source, settings.timezone, datetime.now(UTC), settings.suppress_below
                )
        except NoProjection:
            return False
        metrics.OUTCOMES.replace(families)
        return False

    return refresh
