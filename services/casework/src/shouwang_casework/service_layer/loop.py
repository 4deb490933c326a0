"""Staff moving cases along the loop: transitions, referrals, reassignment, acknowledgements.

Each function runs inside the request's campus transaction, checks the caller against the
domain's guards, stores the change with its history and enqueues the public events in that
same transaction.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
from shouwang_contracts.auth import Principal
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.events.casework import (
    AlertAcknowledged,
    CaseState,
    FamilyContactDecided,
    FamilyContactDecision,
    ReferralStatus,
)
from shouwang_contracts.vocabulary import Role

from ..adapters import alerts as alert_repo
from ..adapters import care
from ..adapters import cases as repo
from ..adapters.roster import responsible_for
from ..domain.cases import Case
from ..domain.followup import FollowUp, FollowUpPurpose
from ..domain.guards import (
    ConsentDecision,
    InvalidTransition,
    MissingRecord,
    NotPermitted,
    may_acknowledge,
    may_work_cases,
    require,
)
from ..domain.referral import Referral, check_consent
from ..domain.transitions import CaseFacts, TransitionRequest
from .access import Caller, CaseNotFound, actor_for, refuse_students
from .events import follow_up_updated, publish, publish_changes, referral_updated

DEFAULT_RETURN_FOLLOW_UP = timedelta(days=7)


def now() -> datetime:
    """Casework's clock."""
    return datetime.now(UTC)


async def load_case(conn: asyncpg.Connection, case_id: str, *, lock: bool = True) -> Case:
    """The case, or `CaseNotFound` (also for another campus's case: RLS hides it).

    With `lock`, the student's lock is taken before the case row, in the same order as the
    consumers take them, so a staff change and an arriving warning never deadlock.
    """
    case = await repo.get_case(conn, case_id)
    if case is None:
        raise CaseNotFound("case_not_found", "no such case")
    if not lock:
        return case
    await repo.lock_student(conn, case.campus_id, case.student_ref)
    locked = await repo.get_case(conn, case_id, lock=True)
    assert locked is not None  # cases are never deleted
    return locked


async def store(
    conn: asyncpg.Connection, case: Case, cipher: NoteCipher, traceparent: str | None
) -> None:
    """Save the case and its history; enqueue its public events."""
    await repo.save_case(conn, case, cipher)
    await publish_changes(conn, case, traceparent=traceparent)


async def transition_case(
    conn: asyncpg.Connection,
    caller: Caller,
    cipher: NoteCipher,
    case_id: str,
    request: TransitionRequest,
    *,
    expected_version: int | None = None,
    traceparent: str | None = None,
) -> Case:
    """Move a case; a referral's destination and consent are stored as records of their own."""
    refuse_students(caller)
    case = await load_case(conn, case_id)
    actor = await actor_for(conn, caller, case.student_ref)
    # Who may move it before whether it moved: a stale version's 409 told staff out of scope
    # how far a case had gone (the domain asks this again, with the step's own rules).
    require(may_work_cases(actor), "transition_forbidden", "tier 4+ in scope may move cases")
    if expected_version is not None and expected_version != case.version:
        raise InvalidTransition("version_conflict", "the case changed since you read it")
    referral = await care.current_referral(conn, case.case_id, lock=True)
    other = await repo.active_case_of(conn, case.student_ref) if not case.active else None
    facts = CaseFacts(
        completed_follow_ups=await care.completed_follow_ups(conn, case.case_id),
        referral_status=referral.status if referral else None,
        student_has_other_active_case=other is not None,
    )
    at = now()
    case.transition(actor, request, at, facts)
    made: Referral | None = None
    if request.to_state is CaseState.REFERRED and request.referral is not None:
        asked = request.referral
        made = Referral(
            referral_id=str(uuid.uuid4()),
            case_id=case.case_id,
            destination_type=asked.destination_type,
            destination=asked.destination.strip(),
            status=ReferralStatus.PENDING,
            consent=asked.consent.value,
            created_at=at,
            updated_at=at,
        )
        await care.insert_referral(conn, case, made, actor.ref)
        await care.record_consent(
            conn,
            cipher,
            case,
            subject="referral",
            decision=asked.consent.value,
            reason=asked.override_reason,
            by_ref=actor.ref,
            by_role=actor.role.value,
            at=at,
        )
    await store(conn, case, cipher, traceparent)
    if made is not None:
        await publish(conn, case.campus_id, referral_updated(case, made), traceparent)
    return case


async def move_referral(
    conn: asyncpg.Connection,
    caller: Caller,
    cipher: NoteCipher,
    case_id: str,
    status: ReferralStatus,
    *,
    follow_up_due: datetime | None = None,
    traceparent: str | None = None,
) -> Referral:
    """Advance the case's referral. On the student's return the case goes to aftercare and a
    follow-up is scheduled (by default a week later)."""
    refuse_students(caller)
    case = await load_case(conn, case_id)
    actor = await actor_for(conn, caller, case.student_ref)
    require(may_work_cases(actor), "referral_forbidden", "tier 4+ in scope updates referrals")
    referral = await care.current_referral(conn, case.case_id, lock=True)
    if referral is None:
        raise CaseNotFound("referral_not_found", "the case has no referral")
    at = now()
    before = referral.status
    referral.move(status, at)
    await care.update_referral(conn, referral)
    case.record(
        "referral_updated",
        actor,
        at,
        detail={"referral_id": referral.referral_id, "from": before.value, "to": status.value},
        text=None,
    )
    if status is ReferralStatus.RETURNED:
        follow_up = FollowUp.schedule(
            case,
            actor,
            follow_up_id=str(uuid.uuid4()),
            purpose=FollowUpPurpose.REFERRAL_RETURN,
            due_at=follow_up_due or at + DEFAULT_RETURN_FOLLOW_UP,
            assignee_ref=case.owner_ref,
            at=at,
        )
        await care.save_follow_up(conn, cipher, case, follow_up)
        if case.state is CaseState.REFERRED:
            case.transition(
                actor,
                TransitionRequest(to_state=CaseState.AFTERCARE),
                at,
                CaseFacts(referral_status=ReferralStatus.RETURNED),
            )
    await store(conn, case, cipher, traceparent)
    await publish(conn, case.campus_id, referral_updated(case, referral), traceparent)
    if status is ReferralStatus.RETURNED:
        await publish(conn, case.campus_id, follow_up_updated(case, follow_up, at), traceparent)
    return referral


async def record_family_consent(
    conn: asyncpg.Connection,
    caller: Caller,
    cipher: NoteCipher,
    case_id: str,
    decision: FamilyContactDecision,
    reason: str | None,
    *,
    traceparent: str | None = None,
) -> str:
    """Record the family-contact decision: given, declined, withdrawn, or overridden (tier 5+,
    with reason); publish it (`case.family_contact_decided`, never the reason) so notify
    contacts the family only after consent or override, and stops when it is withdrawn."""
    refuse_students(caller)
    case = await load_case(conn, case_id)
    actor = await actor_for(conn, caller, case.student_ref)
    require(may_work_cases(actor), "consent_forbidden", "tier 4+ in scope records consent")
    if decision is FamilyContactDecision.OVERRIDDEN:
        check_consent(actor, ConsentDecision.OVERRIDDEN, reason)
    at = now()
    consent_id = await care.record_consent(
        conn,
        cipher,
        case,
        subject="family_contact",
        decision=decision.value,
        reason=reason,
        by_ref=actor.ref,
        by_role=actor.role.value,
        at=at,
    )
    case.record(
        "consent_recorded",
        actor,
        at,
        detail={"subject": "family_contact", "decision": decision.value, "consent_id": consent_id},
        text=reason,
    )
    await store(conn, case, cipher, traceparent)
    await publish(
        conn,
        case.campus_id,
        FamilyContactDecided(
            case_id=case.case_id,
            student_ref=case.student_ref,
            decision=decision,
            decided_by_ref=actor.ref,
            decided_by_role=actor.role,
            decided_at=at,
        ),
        traceparent,
    )
    return consent_id


async def assign_case(
    conn: asyncpg.Connection,
    caller: Caller,
    cipher: NoteCipher,
    case_id: str,
    owner_ref: str,
    owner_role: Role,
    *,
    traceparent: str | None = None,
) -> Case:
    """Hand the case to someone who holds `owner_role` for this student (tier 5+ or admin)."""
    refuse_students(caller)
    case = await load_case(conn, case_id)
    actor = await actor_for(conn, caller, case.student_ref)
    if owner_ref not in await responsible_for(conn, case.student_ref, owner_role.value):
        raise MissingRecord(
            "owner_not_responsible",
            "the new owner does not hold that role for this student",
            field="owner_ref",
            field_message=f"must be one who holds {owner_role.value} for this student",
            field_message_zh=f"须为该学生的{owner_role.label()}",
        )
    case.assign(owner_ref=owner_ref, owner_role=owner_role, at=now(), actor=actor)
    await store(conn, case, cipher, traceparent)
    return case


async def acknowledge_alert(
    conn: asyncpg.Connection,
    caller: Caller,
    cipher: NoteCipher,
    alert_id: str,
    *,
    traceparent: str | None = None,
) -> alert_repo.AlertRecord:
    """Take ownership of an alert: stops triage's escalation (`alert.acknowledged`).

    Only someone at or above the alert's current owner tier (the counseling center for an
    owner off the ladder: `Role.acknowledged_from`), with the student in scope, may
    acknowledge. Acknowledging twice changes nothing and publishes nothing.
    """
    refuse_students(caller)
    known = await alert_repo.get_alert(conn, alert_id)
    if known is None:
        raise CaseNotFound("alert_not_found", "no such alert")
    await repo.lock_student(conn, caller.principal.campus_id, known.student_ref)
    alert = await alert_repo.get_alert(conn, alert_id, lock=True)
    assert alert is not None
    # Scope first: an acknowledged alert answered to anyone would tell a stranger who owns
    # which student's crisis, and when.
    actor = await actor_for(conn, caller, alert.student_ref)
    require(may_work_cases(actor), "acknowledge_forbidden", "tier 4+ in scope acknowledges")
    if alert.acknowledged_at is not None:
        return alert
    if not may_acknowledge(actor, alert.owner_role):
        needed = alert.owner_role.acknowledged_from
        raise NotPermitted(
            "acknowledge_needs_owner_tier",
            f"this alert is owned by {alert.owner_role.value}; "
            f"acknowledge as {needed.role.value} or above",
            detail_zh=f"该预警由{alert.owner_role.label()}负责，需由{needed.label()}或更高层级确认",
        )
    at = now()
    await alert_repo.acknowledge_alert(conn, alert_id, actor.ref, actor.role, at)
    case = await load_case(conn, alert.case_id)
    if case.owner_ref is None:
        case.assign(owner_ref=actor.ref, owner_role=actor.role, at=at)
    case.record("alert_acknowledged", actor, at, detail={"alert_id": alert_id}, text=None)
    await store(conn, case, cipher, traceparent)
    await publish(
        conn,
        case.campus_id,
        AlertAcknowledged(
            alert_id=alert_id,
            case_id=case.case_id,
            student_ref=case.student_ref,
            acknowledged_by_ref=actor.ref,
            acknowledged_by_role=actor.role,
            acknowledged_at=at,
        ),
        traceparent,
    )
    acknowledged = await alert_repo.get_alert(conn, alert_id)
    assert acknowledged is not None
    return acknowledged


async def acknowledge_alert_from_link(
    conn: asyncpg.Connection,
    cipher: NoteCipher,
    *,
    campus_id: str,
    alert_id: str,
    person_ref: str,
    role: Role,
    traceparent: str | None = None,
) -> alert_repo.AlertRecord:
    """An acknowledgement confirmed through a message's link (notify's
    `notification.acknowledged`): recorded as that person, by the same rules as the HTTP
    acknowledgement, once casework's roster says the person holds `role` for the student."""
    known = await alert_repo.get_alert(conn, alert_id)
    if known is None:
        raise CaseNotFound("alert_not_found", "no such alert")
    if person_ref not in await responsible_for(conn, known.student_ref, role.value):
        raise NotPermitted(
            "link_person_not_responsible",
            f"the link's person does not hold {role.value} for this student",
            detail_zh=f"确认链接的持有人不是该学生的{role.label()}",
        )
    # The person acts with their roster scope only: no token grants travel with a link.
    principal = Principal(sub=person_ref, role=role, campus_id=campus_id)
    return await acknowledge_alert(
        conn, Caller(principal, person_ref), cipher, alert_id, traceparent=traceparent
    )
