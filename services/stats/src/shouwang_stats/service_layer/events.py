"""From the public events to the rows they fold into.

One decoder for the live consumers and the rebuild alike, so both accept and refuse exactly
the same records: an event of a type stats counts is validated in full against its contract
(a record that fails goes to the dead-letter topic, and a rebuild skips it); an event of a
type stats does not count (plan updates, assignments, family-contact decisions, anything
new) is passed over.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from shouwang_contracts.envelope import Envelope, Payload
from shouwang_contracts.events.casework import (
    AlertAcknowledged,
    CaseClosed,
    CaseOpened,
    CaseSeverityChanged,
    CaseTransitioned,
    FollowUpStatus,
    FollowUpUpdated,
    ReferralStatus,
    ReferralUpdated,
    StudentRouting,
)
from shouwang_contracts.events.notify import NotificationDelivered, NotificationFailed
from shouwang_contracts.events.triage import AlertEscalated, AlertRaised, AssessmentGraded
from shouwang_contracts.kafka import PoisonEvent, decode_event
from shouwang_contracts.topics import ALERTS, ASSESSMENTS, CASES, DIRECTORY, NOTIFICATIONS
from shouwang_contracts.vocabulary import ReportChannel

from ..domain.figures import NO_INSTRUMENT, SOURCE_CENSUS, SOURCE_SCREENING, UNKNOWN
from ..domain.projection import (
    REFERRAL_ANSWERS,
    AlertRow,
    AssessmentRow,
    CaseRow,
    EscalationRow,
    FollowUpRow,
    NotificationRow,
    ReferralRow,
    Row,
    StudentRow,
)

#: The topics stats replays, in the order a rebuild reads them.
TOPICS: tuple[str, ...] = (DIRECTORY, ASSESSMENTS, ALERTS, CASES, NOTIFICATIONS)

Mapper = Callable[[Envelope[Any]], list[Row]]


def _assessment(e: Envelope[AssessmentGraded]) -> list[Row]:
    d = e.data
    if d.trigger == "report":
        # A student who asked for help, a family's call, a counseling session: where the
        # warning came from is how it was learned of, whichever tier recorded it; what a
        # reporter saw themselves comes from their tier.
        channel = d.report_channel
        if channel is not None and channel is not ReportChannel.OBSERVED:
            source = channel.value
        else:
            source = d.reporter_role.value if d.reporter_role else UNKNOWN
        instrument = NO_INSTRUMENT
    else:
        source = UNKNOWN if d.census is None else SOURCE_CENSUS if d.census else SOURCE_SCREENING
        instrument = d.instrument.value if d.instrument else UNKNOWN
    return [
        AssessmentRow(
            assessment_id=d.assessment_id,
            campus_id=e.campus_id,
            student_ref=d.student_ref,
            severity=d.severity.value,
            source=source,
            instrument=instrument,
            reported_at=d.input_received_at,
            graded_at=d.graded_at,
        )
    ]


def _alert_raised(e: Envelope[AlertRaised]) -> list[Row]:
    d = e.data
    rows: list[Row] = [
        AlertRow(
            alert_id=d.alert_id,
            campus_id=e.campus_id,
            student_ref=d.student_ref,
            assessment_id=d.assessment_id,
            severity=d.severity.value,
            owner_role=d.owner_role.value,
            ack_deadline=d.ack_deadline,
            level=d.escalation_level,
            raised_at=d.raised_at,
        )
    ]
    if d.supersedes_alert_id:
        # The lower alert stops climbing here: its deadline passing later is no breach.
        rows.append(
            AlertRow(
                alert_id=d.supersedes_alert_id,
                campus_id=e.campus_id,
                student_ref=d.student_ref,
                superseded_at=d.raised_at,
            )
        )
    return rows


def _alert_escalated(e: Envelope[AlertEscalated]) -> list[Row]:
    d = e.data
    return [
        AlertRow(
            alert_id=d.alert_id,
            campus_id=e.campus_id,
            student_ref=d.student_ref,
            severity=d.severity.value,
            owner_role=d.owner_role.value,
            ack_deadline=d.ack_deadline,
            level=d.escalation_level,
        ),
        EscalationRow(
            alert_id=d.alert_id,
            level=d.escalation_level,
            campus_id=e.campus_id,
            student_ref=d.student_ref,
            severity=d.severity.value,
            from_role=d.from_role.value,
            to_role=d.owner_role.value,
            missed_deadline=d.missed_deadline,
            escalated_at=d.escalated_at,
            realert=d.realert_attempt > 0,
        ),
    ]


def _acknowledged(e: Envelope[AlertAcknowledged]) -> list[Row]:
    d = e.data
    rows: list[Row] = [
        AlertRow(
            alert_id=d.alert_id,
            campus_id=e.campus_id,
            student_ref=d.student_ref,
            acknowledged_at=d.acknowledged_at,
            case_id=d.case_id,
        )
    ]
    if d.case_id:
        rows.append(
            CaseRow(
                case_id=d.case_id,
                campus_id=e.campus_id,
                student_ref=d.student_ref,
                acknowledged_at=d.acknowledged_at,
            )
        )
    return rows


def _case_opened(e: Envelope[CaseOpened]) -> list[Row]:
    d = e.data
    return [
        CaseRow(
            case_id=d.case_id,
            campus_id=e.campus_id,
            student_ref=d.student_ref,
            opened_at=d.opened_at,
            severity=d.severity.value,
            assessment_id=d.assessment_id,
            alert_id=d.alert_id,
            state="open",
            state_at=d.opened_at,
        )
    ]


def _case_transitioned(e: Envelope[CaseTransitioned]) -> list[Row]:
    d = e.data
    intervened = d.transitioned_at if d.to_state.value == "intervention" else None
    return [
        CaseRow(
            case_id=d.case_id,
            campus_id=e.campus_id,
            student_ref=d.student_ref,
            severity=d.severity.value,
            state=d.to_state.value,
            state_at=d.transitioned_at,
            intervened_at=intervened,
        )
    ]


def _case_severity(e: Envelope[CaseSeverityChanged]) -> list[Row]:
    d = e.data
    return [
        CaseRow(
            case_id=d.case_id,
            campus_id=e.campus_id,
            student_ref=d.student_ref,
            severity=d.to_severity.value,
        )
    ]


def _case_closed(e: Envelope[CaseClosed]) -> list[Row]:
    d = e.data
    return [
        CaseRow(
            case_id=d.case_id,
            campus_id=e.campus_id,
            student_ref=d.student_ref,
            opened_at=d.opened_at,
            severity=d.severity.value,
            state="closed",
            state_at=d.closed_at,
            closed_at=d.closed_at,
            outcome=d.outcome.value,
        )
    ]


def _referral(e: Envelope[ReferralUpdated]) -> list[Row]:
    d = e.data
    at = d.updated_at
    return [
        ReferralRow(
            referral_id=d.referral_id,
            case_id=d.case_id,
            campus_id=e.campus_id,
            student_ref=d.student_ref,
            status=d.status.value,
            version=d.version,
            made_at=at if d.status is ReferralStatus.PENDING else None,
            answered_at=at if d.status.value in REFERRAL_ANSWERS else None,
            returned_at=at if d.status is ReferralStatus.RETURNED else None,
        )
    ]


def _follow_up(e: Envelope[FollowUpUpdated]) -> list[Row]:
    d = e.data
    at = d.updated_at
    return [
        FollowUpRow(
            follow_up_id=d.follow_up_id,
            case_id=d.case_id,
            campus_id=e.campus_id,
            student_ref=d.student_ref,
            status=d.status.value,
            version=d.version,
            due_at=d.due_at,
            scheduled_at=at if d.version == 1 else None,
            completed_at=at if d.status is FollowUpStatus.COMPLETED else None,
            finding=d.finding.value if d.finding else None,
        )
    ]


def _directory(e: Envelope[StudentRouting]) -> list[Row]:
    # Only the college and whether the student is still enrolled: the finer placement is
    # none of stats' business.
    d = e.data
    return [
        StudentRow(
            campus_id=e.campus_id,
            student_ref=d.student_ref,
            college=d.college,
            active=d.active,
            updated_at=d.updated_at,
        )
    ]


def _delivered(e: Envelope[NotificationDelivered]) -> list[Row]:
    d = e.data
    return [
        NotificationRow(
            notification_id=d.notification_id,
            campus_id=e.campus_id,
            student_ref=d.student_ref,
            channel=d.channel.value,
            recipient_kind=d.recipient_kind.value,
            source_event_type=d.source_event_type,
            alert_id=d.alert_id,
            outcome="delivered",
            created_at=d.created_at,
            finished_at=d.delivered_at,
        )
    ]


def _failed(e: Envelope[NotificationFailed]) -> list[Row]:
    # Only the stable reason code travels (no contact detail, no message text).
    d = e.data
    return [
        NotificationRow(
            notification_id=d.notification_id,
            campus_id=e.campus_id,
            student_ref=d.student_ref,
            channel=d.channel.value,
            recipient_kind=d.recipient_kind.value,
            source_event_type=d.source_event_type,
            alert_id=d.alert_id,
            outcome="failed",
            created_at=d.created_at,
            finished_at=d.failed_at,
            reason=d.reason,
        )
    ]


_MAPPERS: dict[str, tuple[type[Payload], Mapper]] = {
    cls.EVENT_TYPE: (cls, mapper)
    for cls, mapper in (
        (AssessmentGraded, _assessment),
        (AlertRaised, _alert_raised),
        (AlertEscalated, _alert_escalated),
        (AlertAcknowledged, _acknowledged),
        (CaseOpened, _case_opened),
        (CaseTransitioned, _case_transitioned),
        (CaseSeverityChanged, _case_severity),
        (CaseClosed, _case_closed),
        (ReferralUpdated, _referral),
        (FollowUpUpdated, _follow_up),
        (StudentRouting, _directory),
        (NotificationDelivered, _delivered),
        (NotificationFailed, _failed),
    )
}


def event_type(value: bytes, headers: Sequence[tuple[str, bytes]] | None) -> str:
    """The record's CloudEvents type: its `ce_type` header, else the JSON's `type`."""
    for name, header in headers or ():
        if name == "ce_type":
            return header.decode("utf-8", "replace")
    try:
        kind = json.loads(value).get("type")
    except (ValueError, AttributeError) as exc:
        raise PoisonEvent(f"not a JSON event: {type(exc).__name__}") from exc
    if not isinstance(kind, str):
        raise PoisonEvent("the event has no type")
    return kind


def rows_of(value: bytes | None, headers: Sequence[tuple[str, bytes]] | None = None) -> list[Row]:
    """The rows one record folds into; [] for a type stats does not count or a tombstone.

    Raises PoisonEvent for a record of a counted type that breaks its contract.
    """
    if value is None:  # a compaction tombstone on the directory topic
        return []
    if not value:
        raise PoisonEvent("empty record value")
    found = _MAPPERS.get(event_type(value, headers))
    if found is None:
        return []
    payload, mapper = found
    return mapper(decode_event(value, payload))
