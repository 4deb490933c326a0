"""Background chores: the escalation scheduler and housekeeping (gauges, pruning).

Each is a chore the kit runs periodically (`BackgroundTasks.every`): one round of work that
returns True when it should run again at once.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from shouwang_servicekit.tasks import Chore

from .. import metrics
from ..adapters.outbox import LANES
from ..adapters.repository import unit_of_work
from ..container import Triage
from ..service_layer.escalation import escalate_overdue

logger = logging.getLogger("shouwang.triage.scheduler")


def escalations(triage: Triage) -> Chore:
    """Escalate overdue alerts, a batch per round (again at once while batches are full);
    survives restarts because deadlines are rows."""
    batch = triage.settings.escalation_batch

    async def escalate() -> bool:
        async with unit_of_work(triage.pool) as store:
            done = await escalate_overdue(store, triage.policy, datetime.now(UTC), batch)
        if done:
            triage.relay.wake("urgent")
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
                logger.warning("alert %s missed the top of the ladder's deadline", step.alert_id)
        return len(done) >= batch

    return escalate


def housekeeping(triage: Triage) -> Chore:
    """Refresh the open-alert and outbox gauges; forget evidence older than every window."""

    async def keep_house() -> bool:
        async with unit_of_work(triage.pool) as store:
            counts = await store.open_alert_counts()
            for severity in ("mild", "moderate", "severe", "critical"):
                metrics.ALERTS_OPEN.labels(severity).set(counts.get(severity, 0))
            for lane in LANES:
                pending = await store.conn.fetchval(
                    "SELECT count(*) FROM outbox WHERE lane = $1", lane
                )
                metrics.OUTBOX_PENDING.labels(lane).set(pending)
            now = datetime.now(UTC)
            await store.prune_evidence(now - triage.policy.retention - timedelta(days=1))
        return False

    return keep_house
