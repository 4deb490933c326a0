"""Background loops: the escalation scheduler and housekeeping (gauges, pruning)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import asyncpg
from shouwang_contracts.topics import PROCESSED_EVENT_MEMORY

from .. import metrics
from ..adapters.outbox import LANES, OutboxRelay
from ..adapters.repository import unit_of_work
from ..domain.policy import GradingPolicy
from ..service_layer.escalation import escalate_overdue

logger = logging.getLogger("shouwang.triage.scheduler")


async def run_escalations(
    pool: asyncpg.Pool, policy: GradingPolicy, relay: OutboxRelay, *, interval: float, batch: int
) -> None:
    """Escalate overdue alerts until cancelled; survives restarts because deadlines are rows."""
    while True:
        escalated = 0
        try:
            async with unit_of_work(pool) as store:
                done = await escalate_overdue(store, policy, datetime.now(UTC), batch)
            escalated = len(done)
            if done:
                relay.wake("urgent")
            for step in done:
                metrics.DEADLINE_BREACHES.labels(step.level.id).inc()
                if step.realert_attempt:
                    metrics.REALERTS.labels(step.level.id).inc()
                    logger.warning(
                        "alert %s re-alerted %s and the on-duty contact (attempt %d)",
                        step.alert_id,
                        step.owner,
                        step.realert_attempt,
                    )
                elif step.owner is not None:
                    metrics.ESCALATIONS.labels(step.level.id, step.owner).inc()
                    logger.info("alert %s escalated to %s", step.alert_id, step.owner)
                else:
                    logger.warning(
                        "alert %s missed the top of the ladder's deadline", step.alert_id
                    )
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("escalation pass failed; retrying")
        if escalated < batch:
            await asyncio.sleep(interval)


async def run_housekeeping(
    pool: asyncpg.Pool, policy: GradingPolicy, *, interval: float = 15.0
) -> None:
    """Refresh the open-alert and outbox gauges; forget evidence older than every window."""
    while True:
        try:
            async with unit_of_work(pool) as store:
                counts = await store.open_alert_counts()
                for severity in ("mild", "moderate", "severe", "critical"):
                    metrics.ALERTS_OPEN.labels(severity).set(counts.get(severity, 0))
                for lane in LANES:
                    pending = await store.conn.fetchval(
                        "SELECT count(*) FROM outbox WHERE lane = $1", lane
                    )
                    metrics.OUTBOX_PENDING.labels(lane).set(pending)
                now = datetime.now(UTC)
                await store.prune_evidence(now - policy.retention - timedelta(days=1))
                await store.conn.execute(
                    "DELETE FROM processed_events WHERE processed_at < $1",
                    now - PROCESSED_EVENT_MEMORY,
                )
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("housekeeping failed; retrying")
        await asyncio.sleep(interval)
