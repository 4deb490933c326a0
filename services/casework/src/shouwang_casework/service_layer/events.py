"""Turn a case's changes into public events (pseudonymous, structured, no free text).

The outbox stores them in the same transaction as the changes, so an event exists exactly
when its change committed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
from shouwang_contracts.envelope import Envelope, Payload
from shouwang_contracts.events.casework import (
    CaseAssigned,
    CaseClosed,
    CaseOpened,
    CaseOwnerCleared,
    CaseSeverityChanged,
    CaseState,
    CaseTransitioned,
    FollowUpUpdated,
    ReferralUpdated,
)
from shouwang_contracts.vocabulary import Role, Severity

from ..adapters.outbox import enqueue, enqueue_many
from ..domain.cases import Case, Change
from ..domain.followup import FollowUp
from ..domain.referral import Referral

SOURCE = "/shouwang/casework"


def payloads_for(case: Case, change: Change) -> list[Payload]:
    """The public payloads a change publishes (none for internal ones such as a note)."""
    d = change.detail
    match change.kind:
        case "opened":
            return [
                CaseOpened(
                    case_id=case.case_id,
                    student_ref=case.student_ref,
                    severity=Severity(d["severity"]),
                    owner_ref=d.get("owner_ref"),
                    owner_role=Role(d["owner_role"]),
                    assessment_id=d.get("assessment_id"),
                    alert_id=d.get("alert_id"),
                    report_ids=d.get("report_ids", []),
                    opened_at=change.at,
                )
            ]
        case "severity_changed":
            return [
                CaseSeverityChanged(
                    case_id=case.case_id,
                    student_ref=case.student_ref,
                    from_severity=Severity(d["from_severity"]),
                    to_severity=Severity(d["to_severity"]),
                    assessment_id=d["assessment_id"],
                    report_ids=d.get("report_ids", []),
                    changed_at=change.at,
                )
            ]
        case "assigned":
            return [
                CaseAssigned(
                    case_id=case.case_id,
                    student_ref=case.student_ref,
                    owner_ref=d["owner_ref"],
                    owner_role=Role(d["owner_role"]),
                    previous_owner_ref=d.get("previous_owner_ref"),
                    assigned_at=change.at,
                )
            ]
        case "owner_cleared":
            return [
                CaseOwnerCleared(
                    case_id=case.case_id,
                    student_ref=case.student_ref,
                    owner_role=Role(d["owner_role"]),
                    previous_owner_ref=d["previous_owner_ref"],
                    reason=d["reason"],
                    cleared_at=change.at,
                )
            ]
        case "transitioned":
            assert change.from_state is not None
            assert change.to_state is not None
            payloads: list[Payload] = [
                CaseTransitioned(
                    case_id=case.case_id,
                    student_ref=case.student_ref,
                    from_state=change.from_state,
                    to_state=change.to_state,
                    severity=case.severity,
                    actor_ref=change.actor_ref,
                    actor_role=Role(change.actor_role),
                    referral_type=d.get("referral_type"),
                    transitioned_at=change.at,
                )
            ]
            if change.to_state is CaseState.CLOSED:
                assert case.outcome is not None
                payloads.append(
                    CaseClosed(
                        case_id=case.case_id,
                        student_ref=case.student_ref,
                        outcome=case.outcome,
                        severity=case.severity,
                        opened_at=case.opened_at,
                        closed_at=change.at,
                    )
                )
            return payloads
    return []


def referral_updated(case: Case, referral: Referral) -> ReferralUpdated:
    """A referral as the public event tells it: status and kind, never the destination's name."""
    return ReferralUpdated(
        referral_id=referral.referral_id,
        case_id=case.case_id,
        student_ref=case.student_ref,
        status=referral.status,
        destination_type=referral.destination_type.value,
        version=referral.version,
        updated_at=referral.updated_at,
    )


def follow_up_updated(case: Case, follow_up: FollowUp, at: datetime) -> FollowUpUpdated:
    """A follow-up as the public event tells it: status, due time and finding, never the why."""
    return FollowUpUpdated(
        follow_up_id=follow_up.follow_up_id,
        case_id=case.case_id,
        student_ref=case.student_ref,
        purpose=follow_up.purpose.value,
        status=follow_up.status,
        due_at=follow_up.due_at,
        finding=follow_up.finding,
        version=follow_up.version,
        updated_at=at,
    )


def change_events(case: Case, *, traceparent: str | None = None) -> list[Envelope[Any]]:
    """The public events of the case's pending changes, wrapped for the outbox; the changes
    are forgotten. Enqueue them (`enqueue_many`) after `save_case` in the same transaction."""
    envelopes = [
        wrap(case.campus_id, payload, traceparent)
        for change in case.changes
        for payload in payloads_for(case, change)
    ]
    case.changes.clear()
    return envelopes


async def publish_changes(
    conn: asyncpg.Connection, case: Case, *, traceparent: str | None = None
) -> list[Envelope[Any]]:
    """Enqueue the public events of the case's pending changes, then forget the changes.

    Call after `save_case` in the same transaction.
    """
    envelopes = change_events(case, traceparent=traceparent)
    await enqueue_many(conn, envelopes)
    return envelopes


def wrap(campus_id: str, payload: Payload, traceparent: str | None = None) -> Envelope[Any]:
    """One payload about a student as casework publishes it."""
    return Envelope.wrap(
        payload,
        source=SOURCE,
        campus_id=campus_id,
        subject=payload.student_ref,  # type: ignore[attr-defined]
        traceparent=traceparent,
    )


async def publish(
    conn: asyncpg.Connection, campus_id: str, payload: Payload, traceparent: str | None = None
) -> Envelope[Any]:
    """Wrap one payload about a student and enqueue it in the outbox."""
    envelope = wrap(campus_id, payload, traceparent)
    await enqueue(conn, envelope)
    return envelope
