"""Case events, family-contact decisions, the directory and acknowledgements, applied.

Each function runs inside the consumer's transaction, after the event id was claimed, so an
event redelivered by Kafka changes nothing twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events.casework import (
    AlertAcknowledged,
    BreakGlassOpened,
    CaseAssigned,
    CaseClosed,
    CaseOpened,
    CaseOwnerCleared,
    CaseSeverityChanged,
    CaseTransitioned,
    FamilyContactDecided,
    FamilyContactDecision,
    StaffListingChanged,
    StudentErased,
    StudentRouting,
)
from shouwang_contracts.events.casework import (
    CaseState as LoopState,
)
from shouwang_contracts.vocabulary import Role

from ..adapters import bundle_items, queue, retention, state
from ..domain.routing import (
    CaseNoticeKind,
    ConsentState,
    Responsible,
    family_intent_on_consent,
)
from .erasure import apply_erasure, complete_deferred_erasure
from .family import queue_family_messages
from .policy import NotifyPolicy
from .staff_left import apply_staff_listing


async def apply_directory(conn: asyncpg.Connection, envelope: Envelope[StudentRouting]) -> None:
    """Who is responsible for the student now (nobody once the student left)."""
    entry = envelope.data
    people = [Responsible(r.role, r.person_ref) for r in entry.responsible] if entry.active else []
    await state.replace_responsible(conn, envelope.campus_id, entry.student_ref, people)
    # Since when the student has left: their family contacts end some time after (retention).
    await retention.record_leaving(
        conn, envelope.campus_id, entry.student_ref, active=entry.active, at=entry.updated_at
    )


async def _notice(
    conn: asyncpg.Connection,
    policy: NotifyPolicy,
    envelope: Envelope[Any],
    kind: CaseNoticeKind,
    person_ref: str,
    role: Role,
    case_id: str | None,
    student_ref: str,
    severity: str | None,
    now: datetime,
    *,
    at_once: bool = False,
    extra: dict[str, Any] | None = None,
) -> None:
    await bundle_items.add_bundle_item(
        conn,
        campus_id=envelope.campus_id,
        person_ref=person_ref,
        role=role,
        kind="case",
        item={"kind": kind.value, "case_id": case_id, "severity": severity, **(extra or {})},
        source_event_id=envelope.id,
        student_ref=student_ref,
        source_time=envelope.time,
        due_at=now if at_once else now + policy.case_batch_window,
    )


async def apply_case_event(
    conn: asyncpg.Connection,
    cipher: NoteCipher,
    policy: NotifyPolicy,
    envelope: Envelope[Any],
    now: datetime,
) -> None:
    """Keep the case picture and tell the person concerned what needs them."""
    data = envelope.data
    campus = envelope.campus_id
    match data:
        case CaseOpened():
            await state.upsert_case(
                conn,
                campus,
                data.case_id,
                data.student_ref,
                severity=data.severity,
                owner_ref=data.owner_ref,
                owner_role=data.owner_role,
            )
            if data.owner_ref:
                await _notice(
                    conn,
                    policy,
                    envelope,
                    CaseNoticeKind.ASSIGNED,
                    data.owner_ref,
                    data.owner_role,
                    data.case_id,
                    data.student_ref,
                    data.severity.value,
                    now,
                )
        case CaseAssigned():
            await state.upsert_case(
                conn,
                campus,
                data.case_id,
                data.student_ref,
                owner_ref=data.owner_ref,
                owner_role=data.owner_role,
            )
            case = await state.get_case(conn, data.case_id)
            severity = case.severity.value if case and case.severity else None
            await _notice(
                conn,
                policy,
                envelope,
                CaseNoticeKind.ASSIGNED,
                data.owner_ref,
                data.owner_role,
                data.case_id,
                data.student_ref,
                severity,
                now,
            )
        case CaseOwnerCleared():
            await tell_who_takes_up_unowned(conn, policy, envelope, now)
        case CaseSeverityChanged():
            await state.upsert_case(
                conn, campus, data.case_id, data.student_ref, severity=data.to_severity
            )
            await _family_if_allowed(conn, cipher, policy, envelope, data.case_id, now)
        case CaseTransitioned():
            await state.upsert_case(
                conn, campus, data.case_id, data.student_ref, severity=data.severity
            )
            case = await state.get_case(conn, data.case_id)
            answered = (
                data.from_state is LoopState.REFERRED and data.to_state is not LoopState.REFERRED
            )
            if answered and case and case.owner_ref and case.owner_role:
                await _notice(
                    conn,
                    policy,
                    envelope,
                    CaseNoticeKind.REFERRAL_ANSWERED,
                    case.owner_ref,
                    case.owner_role,
                    data.case_id,
                    data.student_ref,
                    data.severity.value,
                    now,
                )
        case CaseClosed():
            await state.upsert_case(
                conn, campus, data.case_id, data.student_ref, closed_at=data.closed_at
            )
            await queue.cancel_family(conn, campus, data.student_ref, "case_closed", now)
            # An erasure that waited for the student's last open case completes now.
            await complete_deferred_erasure(conn, campus, data.student_ref)
        case FamilyContactDecided():
            await apply_family_decision(conn, cipher, policy, envelope, now)
        case AlertAcknowledged():
            await state.alert_acknowledged(conn, data.alert_id, campus, data.acknowledged_at)
        case BreakGlassOpened():
            await tell_the_counseling_center(conn, policy, envelope, now)
        case StudentErased():
            await apply_erasure(conn, envelope)
        case StaffListingChanged():
            await apply_staff_listing(conn, envelope)


async def tell_who_takes_up_unowned(
    conn: asyncpg.Connection,
    policy: NotifyPolicy,
    envelope: Envelope[CaseOwnerCleared],
    now: datetime,
) -> None:
    """A case lost its owner (they left the staff roster) and nobody holds its rung for the
    student: notify forgets the owner (no later notice of the case goes to someone gone) and
    the counseling center staff responsible for the student hear of it at once, to take it
    up from the queue's unowned cases. The message names no student."""
    cleared = envelope.data
    await state.upsert_case(
        conn,
        envelope.campus_id,
        cleared.case_id,
        cleared.student_ref,
        owner_role=cleared.owner_role,
    )
    await state.clear_owner(conn, cleared.case_id, cleared.previous_owner_ref)
    case = await state.get_case(conn, cleared.case_id)
    severity = case.severity.value if case and case.severity else None
    for person in await state.responsible_for(conn, envelope.campus_id, cleared.student_ref):
        if person.role is Role.COUNSELING_CENTER:
            await _notice(
                conn,
                policy,
                envelope,
                CaseNoticeKind.UNOWNED,
                person.person_ref,
                person.role,
                cleared.case_id,
                cleared.student_ref,
                severity,
                now,
                at_once=True,
            )


async def tell_the_counseling_center(
    conn: asyncpg.Connection,
    policy: NotifyPolicy,
    envelope: Envelope[BreakGlassOpened],
    now: datetime,
) -> None:
    """A file was opened by someone outside the student's scope: the counseling center staff
    responsible for the student hear of it at once (no batching), to review the grant. The
    message names neither the student nor the reason; the review queue does, to them."""
    opened = envelope.data
    center = [
        r
        for r in await state.responsible_for(conn, envelope.campus_id, opened.student_ref)
        if r.role is Role.COUNSELING_CENTER
    ]
    for person in center:
        await _notice(
            conn,
            policy,
            envelope,
            CaseNoticeKind.BREAK_GLASS,
            person.person_ref,
            person.role,
            None,
            opened.student_ref,
            None,
            now,
            at_once=True,
            extra={"until": opened.expires_at.isoformat(timespec="minutes")},
        )


async def apply_family_decision(
    conn: asyncpg.Connection,
    cipher: NoteCipher,
    policy: NotifyPolicy,
    envelope: Envelope[FamilyContactDecided],
    now: datetime,
) -> None:
    """Consent or override opens the way to the family; withdrawal or refusal closes it and
    stops every family message not yet sent."""
    decision = envelope.data
    await state.upsert_case(conn, envelope.campus_id, decision.case_id, decision.student_ref)
    await state.set_consent(
        conn, decision.case_id, ConsentState(decision.decision.value), decision.decided_at
    )
    if decision.decision in (FamilyContactDecision.WITHDRAWN, FamilyContactDecision.DECLINED):
        await queue.cancel_family(
            conn,
            envelope.campus_id,
            decision.student_ref,
            f"consent_{decision.decision.value}",
            now,
        )
        return
    await _family_if_allowed(conn, cipher, policy, envelope, decision.case_id, now)


async def _family_if_allowed(
    conn: asyncpg.Connection,
    cipher: NoteCipher,
    policy: NotifyPolicy,
    envelope: Envelope[Any],
    case_id: str,
    now: datetime,
) -> None:
    case = await state.get_case(conn, case_id, lock=True)
    if case is None or case.closed:
        return
    if family_intent_on_consent(case.student_ref, case.severity, case.family_gate()) is None:
        return
    assert case.severity is not None
    await queue_family_messages(
        conn,
        cipher,
        policy,
        campus_id=envelope.campus_id,
        student_ref=case.student_ref,
        case_id=case.case_id,
        severity=case.severity,
        source_event_id=envelope.id,
        source_event_type=envelope.type,
        source_time=envelope.time,
        alert_id=None,
        now=now,
    )
    await state.set_family_told(conn, case.case_id, case.severity)
