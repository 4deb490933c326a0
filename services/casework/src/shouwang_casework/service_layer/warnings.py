"""What casework does with triage's output: graded assessments and alerts open or feed cases.

Each handler runs inside the consumer's campus transaction, after the event was claimed in
`processed_events`, so a redelivered event changes nothing. The student is locked first: an
assessment and its alert arrive on different topics and may be handled at the same moment
(`student_locked`: a batch's consumer locked every student of the batch already). What a
warning needs to know (handled before? the active case, the would-be owner) is read in one
statement: a report's warnings are the platform's hottest path.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events.casework import CaseReportsAttached
from shouwang_contracts.events.triage import AlertEscalated, AlertRaised, AssessmentGraded
from shouwang_contracts.vocabulary import Role, Severity

from ..adapters import alerts as alert_repo
from ..adapters import cases as repo
from ..adapters.roster import responsible_for
from ..domain.cases import DEFAULT_OWNER_ROLE, Case, open_or_attach
from .events import publish, publish_changes


@dataclass(frozen=True, slots=True)
class WarningOutcome:
    """What a warning did: the case it landed on, and whether it opened it."""

    case_id: str | None
    opened: bool


def _rank(role: Role) -> int:
    tier = role.tier
    return int(tier) if tier is not None else 0


async def _owner_for(conn: asyncpg.Connection, student_ref: str, role: Role) -> str | None:
    holders = await responsible_for(conn, student_ref, role.value)
    return holders[0] if holders else None


def writes_case(warning: AssessmentGraded | AlertRaised | AlertEscalated) -> bool:
    """Whether handling `warning` may write its student's case rows, so must hold the
    student's lock: an assessment below mild changes nothing (most of a census)."""
    return not isinstance(warning, AssessmentGraded) or warning.severity >= Severity.MILD


async def _lock(
    conn: asyncpg.Connection, campus_id: str, student_ref: str, *, locked: bool
) -> None:
    if not locked:
        await repo.lock_student(conn, campus_id, student_ref)


async def _store(conn: asyncpg.Connection, case: Case, cipher: NoteCipher, new: bool) -> None:
    if new or case.changes:
        await repo.save_case(conn, case, cipher, new=new)
        await publish_changes(conn, case)


def assessment_owner_role(graded: AssessmentGraded) -> Role:
    """The role a case opened by `graded` is owned by (until an alert names one)."""
    return DEFAULT_OWNER_ROLE[graded.severity]


def assessment_case(
    active: Case | None, envelope: Envelope[AssessmentGraded], owners: list[str]
) -> tuple[Case, bool, datetime]:
    """The case an assessment lands on (the active one, or a new one owned by the first of
    `owners`), whether it is new, and when casework acted. Pure: both the per-event and the
    set-wise path decide with it."""
    graded = envelope.data
    owner_ref = None if active or not owners else owners[0]
    now = _now(graded.graded_at)
    case, opened = open_or_attach(
        active,
        new_case_id=str(uuid.uuid4()),
        campus_id=envelope.campus_id,
        student_ref=graded.student_ref,
        assessment_id=graded.assessment_id,
        severity=graded.severity,
        report_ids=graded.report_ids,
        owner_role=assessment_owner_role(graded),
        owner_ref=owner_ref,
        at=now,
    )
    return case, opened, now


def reports_attached(
    envelope: Envelope[AssessmentGraded], case: Case, opened: bool, now: datetime
) -> CaseReportsAttached | None:
    """The reporters' event of an assessment attached to a case it did not open, if any.

    Reporters hear "being handled" from the case's events; an attachment that changes
    nothing else about the case would otherwise leave them at "received" for good."""
    graded = envelope.data
    if not graded.report_ids or opened:
        return None
    return CaseReportsAttached(
        case_id=case.case_id,
        student_ref=graded.student_ref,
        assessment_id=graded.assessment_id,
        report_ids=graded.report_ids,
        attached_at=now,
    )


async def on_assessment(
    conn: asyncpg.Connection,
    envelope: Envelope[AssessmentGraded],
    cipher: NoteCipher,
    *,
    student_locked: bool = False,
) -> WarningOutcome:
    """An assessment of mild or worse opens the student's case or attaches to the active one."""
    graded = envelope.data
    if not writes_case(graded):
        return WarningOutcome(None, opened=False)
    await _lock(conn, envelope.campus_id, graded.student_ref, locked=student_locked)
    context = await repo.warning_context(
        conn, graded.student_ref, assessment_owner_role(graded), assessment_id=graded.assessment_id
    )
    if context.known:
        return WarningOutcome(None, opened=False)
    case, opened, now = assessment_case(context.active, envelope, context.owners)
    await _store(conn, case, cipher, opened)
    await repo.attach_assessment(
        conn,
        campus_id=envelope.campus_id,
        case_id=case.case_id,
        assessment_id=graded.assessment_id,
        severity=graded.severity,
        report_ids=graded.report_ids,
        graded_at=graded.graded_at,
        at=now,
    )
    attached = reports_attached(envelope, case, opened, now)
    if attached is not None:
        await publish(conn, envelope.campus_id, attached, envelope.traceparent)
    return WarningOutcome(case.case_id, opened)


def alert_case(
    active: Case | None, envelope: Envelope[AlertRaised], owners: list[str], *, first_alert: bool
) -> tuple[Case, bool]:
    """The case a raised alert lands on (the active one, or a new one) with its owner
    decided, and whether it is new. `first_alert`: the active case has no alert yet. Pure:
    both the per-event and the set-wise path decide with it.

    The owner is whoever holds the alert's owner role for the student's placement (the first
    of `owners`); when nobody does, the case stays unowned and visible in the queue until
    someone acknowledges it."""
    alert = envelope.data
    now = _now(alert.raised_at)
    owner_ref = owners[0] if owners else None
    if active is None:
        return open_or_attach(
            None,
            new_case_id=str(uuid.uuid4()),
            campus_id=envelope.campus_id,
            student_ref=alert.student_ref,
            assessment_id=alert.assessment_id,
            severity=max(alert.severity, Severity.MILD),
            report_ids=[],
            owner_role=alert.owner_role,
            owner_ref=owner_ref,
            at=now,
            source={"alert_id": alert.alert_id, "assessment_id": alert.assessment_id},
        )
    # Until the first alert, the owner is only the default ladder's guess; triage's
    # (campus-tuned) ladder decides, so the first alert's owner takes the case.
    _take_over(active, alert.owner_role, owner_ref, now, authoritative=first_alert)
    if alert.severity > active.severity:
        active.attach(
            assessment_id=alert.assessment_id, severity=alert.severity, report_ids=[], at=now
        )
    return active, False


def alert_record(alert: AlertRaised, case_id: str) -> alert_repo.AlertRecord:
    """A raised alert as casework keeps it, on `case_id`."""
    return alert_repo.AlertRecord(
        alert_id=alert.alert_id,
        case_id=case_id,
        student_ref=alert.student_ref,
        assessment_id=alert.assessment_id,
        severity=alert.severity,
        owner_role=alert.owner_role,
        ack_deadline=alert.ack_deadline,
        escalation_level=alert.escalation_level,
        raised_at=alert.raised_at,
        acknowledged_at=None,
        acknowledged_by_ref=None,
        acknowledged_by_role=None,
    )


async def on_alert_raised(
    conn: asyncpg.Connection,
    envelope: Envelope[AlertRaised],
    cipher: NoteCipher,
    *,
    student_locked: bool = False,
) -> WarningOutcome:
    """An alert lands on the student's case (opening one if needed) and names its owner
    (`alert_case`)."""
    alert = envelope.data
    await _lock(conn, envelope.campus_id, alert.student_ref, locked=student_locked)
    context = await repo.warning_context(
        conn, alert.student_ref, alert.owner_role, alert_id=alert.alert_id
    )
    if context.known:
        return WarningOutcome(None, opened=False)
    active = context.active
    first_alert = active is not None and not await alert_repo.alerts_of(conn, active.case_id)
    case, opened = alert_case(active, envelope, context.owners, first_alert=first_alert)
    await _store(conn, case, cipher, opened)
    await alert_repo.insert_alert(conn, envelope.campus_id, alert_record(alert, case.case_id))
    return WarningOutcome(case.case_id, opened)


async def on_alert_escalated(
    conn: asyncpg.Connection,
    envelope: Envelope[AlertEscalated],
    cipher: NoteCipher,
    *,
    student_locked: bool = False,
) -> WarningOutcome:
    """An unacknowledged alert climbed a tier: the new owner role can take over the case.

    When nobody holds the new role for the student (a college with no leader on the roster),
    the case stays with its owner: someone still owns it, and notify reaches the next tier
    someone holds, or the on-duty line, in the empty rung's place and says so."""
    escalated = envelope.data
    await _lock(conn, envelope.campus_id, escalated.student_ref, locked=student_locked)
    alert = await alert_repo.get_alert(conn, escalated.alert_id, lock=True)
    if alert is None:
        # The raise has not arrived (or was dead-lettered): nothing to attach to yet. Triage
        # keeps the deadline and escalates again, so the next escalation lands.
        return WarningOutcome(None, opened=False)
    await alert_repo.escalate_alert(
        conn,
        escalated.alert_id,
        escalated.owner_role,
        escalated.ack_deadline,
        escalated.escalation_level,
    )
    case = await repo.get_case(conn, alert.case_id, lock=True)
    if case is None or not case.active or alert.acknowledged_at is not None:
        return WarningOutcome(alert.case_id, opened=False)
    owner_ref = await _owner_for(conn, escalated.student_ref, escalated.owner_role)
    _take_over(case, escalated.owner_role, owner_ref, _now(escalated.escalated_at))
    await _store(conn, case, cipher, new=False)
    return WarningOutcome(case.case_id, opened=False)


def _take_over(
    case: Case, role: Role, owner_ref: str | None, at: datetime, *, authoritative: bool = False
) -> None:
    """Reassign to the alert's owner if the case is unowned, the role ranks higher, or the
    alert is `authoritative` (the first one on the case)."""
    if owner_ref is None:
        return
    if case.owner_ref is None or authoritative or _rank(role) > _rank(case.owner_role):
        case.assign(owner_ref=owner_ref, owner_role=role, at=at)


def _now(event_time: datetime) -> datetime:
    # History records when casework acted; an event's own time can lag behind a backlog.
    return max(event_time, datetime.now(event_time.tzinfo))


async def on_warning(
    conn: asyncpg.Connection,
    envelope: Envelope[Any],
    cipher: NoteCipher,
    *,
    student_locked: bool = False,
) -> WarningOutcome:
    """An assessment, a raised or an escalated alert, by its type (`on_assessment`,
    `on_alert_raised`, `on_alert_escalated`)."""
    data = envelope.data
    if isinstance(data, AssessmentGraded):
        return await on_assessment(conn, envelope, cipher, student_locked=student_locked)
    if isinstance(data, AlertRaised):
        return await on_alert_raised(conn, envelope, cipher, student_locked=student_locked)
    return await on_alert_escalated(conn, envelope, cipher, student_locked=student_locked)
