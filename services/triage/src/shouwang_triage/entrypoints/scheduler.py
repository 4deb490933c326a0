"""Background chores: the escalation scheduler and housekeeping (gauges, pruning).

Each is a chore the kit runs periodically (`BackgroundTasks.every`): one round of work that
returns True when it should run again at once.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from shouwang_servicekit.tasks import Chore

from .. import metrics
from ..adapters.erasure import prune_erasure_marks
from ..adapters.repository import unit_of_work
from ..adapters.retention import prune_grades
from ..container import Triage
from ..service_layer.escalation import escalate_overdue

logger = logging.getLogger("shouwang.triage.scheduler")


def escalations(triage: Triage) -> Chore:
    """Escalate overdue alerts, a batch per round (again at once while batches are full);
    survives restarts because deadlines are rows. Severe and critical alerts past the top rung
    re-alert their owner and the on-duty contact until acknowledged."""
    batch = triage.settings.escalation_batch

    async def escalate() -> bool:
        async with unit_of_work(triage.pool) as store:
            done = await escalate_overdue(store, triage.policy, datetime.now(UTC), batch)
        for step in done:
            metrics.campus_known(step.campus_id)
            metrics.DEADLINE_BREACHES.labels(step.campus_id, step.level.id).inc()
            if step.realert_attempt:
                metrics.REALERTS.labels(step.campus_id, step.level.id).inc()
                logger.warning(
                    "alert %s re-alerted %s and the on-duty contact (attempt %d)",
                    step.alert_id,
                    step.owner,
                    step.realert_attempt,
                )
            elif step.owner is not None:
                metrics.ESCALATIONS.labels(step.campus_id, step.level.id, step.owner).inc()
                logger.info("alert %s escalated to %s", step.alert_id, step.owner)
            else:
                logger.warning("alert %s missed the top of the ladder's deadline", step.alert_id)
        return len(done) >= batch

    return escalate


def housekeeping(triage: Triage) -> Chore:
    """Refresh the open-alert and outbox gauges; forget evidence older than every window,
    erasure marks older than `erasure_mark_days`, and the grades graded before the windows of
    students with no open matter (a batch per turn, again at once while the batch was full;
    docs/retention.md).

    The outbox gauge is set for the lanes this process relays only: a lane nobody relays has
    no series, which is how an alert tells that the census pods are gone."""
    lanes = triage.settings.relay_lanes
    batch = triage.settings.retention_batch

    async def keep_house() -> bool:
        async with unit_of_work(triage.pool) as store:
            for campus in await store.known_campuses():
                metrics.campus_known(campus)
            counts = await store.open_alert_counts()
            for campus in sorted({c for c, _ in counts} | metrics.known_campuses()):
                for severity in metrics.SEVERITIES:
                    metrics.ALERTS_OPEN.labels(campus, severity).set(
                        counts.get((campus, severity), 0)
                    )
            for lane in lanes:
                pending = await store.conn.fetchval(
                    "SELECT count(*) FROM outbox WHERE lane = $1", lane
                )
                metrics.OUTBOX_PENDING.labels(lane).set(pending)
            cutoff = datetime.now(UTC) - triage.policy.retention - timedelta(days=1)
            await store.prune_evidence(cutoff)
            days = triage.settings.erasure_mark_days
            await prune_erasure_marks(store.conn, datetime.now(UTC) - timedelta(days=days))
        # Its own short transaction: the batch's grade locks are held only while it deletes.
        async with unit_of_work(triage.pool) as store:
            grades = await prune_grades(store.conn, cutoff, batch)
        if grades:
            logger.info("retention: %d grades past every policy window deleted", grades)
        return grades >= batch

    return keep_house
