"""Climb the ladder: overdue alerts move one tier up with a new deadline, exactly once.

Past the top rung a severe or critical alert re-alerts its owner and the campus's on-duty
contact at its rung's interval until someone acknowledges it; milder alerts stop there,
counted as breaches. Each pass locks the overdue rows with `FOR UPDATE SKIP LOCKED`, moves them and writes the
`alert.escalated` events to the outbox in the same transaction; a second replica skips the
rows this one holds, and once committed the deadline has moved, so no deadline escalates twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shouwang_contracts.events.triage import AlertEscalated
from shouwang_contracts.vocabulary import Role, Severity

from ..adapters.repository import TriageStore
from ..domain.ladder import next_assignment
from ..domain.levels import Level
from ..domain.policy import GradingPolicy
from .events import derived_id, follow_up_tasks, wrap


@dataclass(frozen=True, slots=True)
class Escalation:
    """One missed deadline and where the alert went (owner None: it stopped at the top;
    `realert_attempt` > 0: it re-alerted the top owner)."""

    alert_id: str
    campus_id: str
    level: Level
    owner: str | None
    realert_attempt: int = 0


async def escalate_overdue(
    store: TriageStore, policy: GradingPolicy, now: datetime, limit: int
) -> list[Escalation]:
    """Escalate up to `limit` overdue alerts in the store's transaction."""
    done = []
    for due in await store.lock_due_alerts(now, limit):
        ladder = policy.for_campus(due.campus_id).ladder
        assignment = next_assignment(ladder, due.level, due.owner, now, due.realert_attempt)
        if assignment is None:
            # Nobody above the college leader and no re-alerts for this severity: the alert
            # stays open and counted as breached.
            await store.stop_climbing(due.alert_id)
            done.append(Escalation(due.alert_id, due.campus_id, due.level, None))
            continue
        level = due.escalation_level + 1
        await store.move_alert(due.alert_id, assignment, level)
        event = AlertEscalated(
            alert_id=due.alert_id,
            student_ref=due.student_ref,
            severity=Severity(due.level.id),
            from_role=Role(due.owner),
            owner_role=Role(assignment.owner),
            inform_roles=[Role(r) for r in assignment.inform],
            inform_external=list(assignment.inform_external),
            ack_deadline=assignment.ack_deadline,
            escalation_level=level,
            missed_deadline=due.ack_deadline,
            escalated_at=now,
            realert_attempt=assignment.realert_attempt,
            notify_on_duty=assignment.notify_on_duty,
            follow_up_tasks=follow_up_tasks(due.tasks),
            incomplete_sheet=due.incomplete,
        )
        envelope = wrap(
            event,
            event_id=derived_id("escalation", due.alert_id, str(level)),
            campus_id=due.campus_id,
            student_ref=due.student_ref,
            time=now,
            traceparent=None,
        )
        await store.enqueue(envelope, "urgent")
        done.append(
            Escalation(
                due.alert_id,
                due.campus_id,
                due.level,
                assignment.owner,
                assignment.realert_attempt,
            )
        )
    return done
