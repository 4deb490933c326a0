"""The staff case API (/v1): a counselor's day — case, history, moves, notes, plan,
follow-ups, referral, consent and alert acknowledgement (the queue: `http_queue`).

Every call authenticates, runs in one campus transaction (row-level security) and is checked
against role, tier and scope by the service layer; a refused rule answers problem+json with
the rule's code and the field that is missing.
"""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
from fastapi import APIRouter, status
from shouwang_contracts.trace import current_traceparent
from shouwang_servicekit.security import CurrentPrincipal

from ..adapters.alerts import AlertRecord
from ..container import Casework
from ..domain.followup import FollowUp
from ..domain.guards import Reading
from ..domain.plan import Plan
from ..domain.referral import ReferralRequest
from ..domain.transitions import TransitionRequest, allowed_targets
from ..service_layer import loop, views
from ..service_layer.access import Caller
from . import http_schemas as s
from .http_common import Container, in_campus

router = APIRouter(prefix="/v1", tags=["cases"], responses=s.PROBLEMS)


def _case_out(view: views.CaseView) -> s.CaseOut:
    case = view.case
    return s.CaseOut(
        case_id=case.case_id,
        student_ref=case.student_ref,
        state=case.state,
        severity=case.severity,
        owner_ref=case.owner_ref,
        owner_role=case.owner_role,
        outcome=case.outcome,
        report_ids=case.report_ids,
        report_channels=list(view.report_channels),
        opened_at=case.opened_at,
        updated_at=case.updated_at,
        closed_at=case.closed_at,
        version=case.version,
        allowed_transitions=sorted(allowed_targets(case.state)),
        alerts=[alert_out(a) for a in view.alerts],
        referral=s.ReferralOut(
            referral_id=view.referral.referral_id,
            destination_type=view.referral.destination_type,
            destination=view.referral.destination if view.reading is Reading.FULL else None,
            status=view.referral.status,
            consent=view.referral.consent,
            returned_at=view.referral.returned_at,
        )
        if view.referral
        else None,
        follow_ups=[follow_up_out(f) for f in view.follow_ups],
    )


def alert_out(a: AlertRecord) -> s.AlertOut:
    return s.AlertOut(
        alert_id=a.alert_id,
        severity=a.severity,
        owner_role=a.owner_role,
        ack_deadline=a.ack_deadline,
        escalation_level=a.escalation_level,
        acknowledged_at=a.acknowledged_at,
        acknowledged_by_ref=a.acknowledged_by_ref,
    )


def follow_up_out(f: FollowUp) -> s.FollowUpOut:
    return s.FollowUpOut(
        follow_up_id=f.follow_up_id,
        purpose=f.purpose,
        due_at=f.due_at,
        assignee_ref=f.assignee_ref,
        status=f.status,
        closed_by_ref=f.closed_by_ref,
        closed_at=f.closed_at,
        finding=f.finding,
        missed=f.is_missed(loop.now()),
        reminded_at=f.reminded_at,
    )


def plan_out(plan: Plan) -> s.PlanOut:
    """The plan as answered, with what is due or overdue as of now."""
    at = datetime.now(UTC)
    return s.PlanOut(
        case_id=plan.case_id,
        version=plan.version,
        actions=[
            s.PlanActionOut(
                action_id=a.action_id,
                kind=a.kind,
                owner_ref=a.owner_ref,
                due_at=a.due_at,
                status=a.status,
                description=a.description,
            )
            for a in plan.actions
        ],
        review_dates=plan.review_dates,
        actions_open=plan.actions_open,
        actions_done=plan.actions_done,
        actions_overdue=plan.actions_overdue(at),
        next_review_at=plan.next_review(at),
        reviews_due=plan.reviews_due(at),
        updated_at=plan.updated_at,
    )


async def _view(conn: asyncpg.Connection, caller: Caller, case_id: str) -> s.CaseOut:
    return _case_out(await views.case_view(conn, caller, case_id))


@router.get("/cases/{case_id}", operation_id="get_case", response_model=s.CaseOut)
async def get_case(casework: Container, principal: CurrentPrincipal, case_id: str) -> s.CaseOut:
    """One case with its alerts, referral and follow-ups."""
    return await in_campus(casework, principal, lambda c, who, d: _view(c, who, case_id))


@router.get(
    "/cases/{case_id}/history", operation_id="get_case_history", response_model=list[s.HistoryOut]
)
async def get_case_history(
    casework: Container, principal: CurrentPrincipal, case_id: str
) -> list[s.HistoryOut]:
    """Every change of the case, oldest first (immutable)."""

    async def work(conn: asyncpg.Connection, caller: Caller, cw: Casework) -> list[s.HistoryOut]:
        entries = await views.case_history(conn, caller, cw.cipher, case_id)
        return [
            s.HistoryOut(
                seq=e.seq,
                kind=e.kind,
                from_state=e.from_state,
                to_state=e.to_state,
                actor_ref=e.actor_ref,
                actor_role=e.actor_role,
                detail=e.detail,
                text=e.text,
                at=e.at,
            )
            for e in entries
        ]

    return await in_campus(casework, principal, work)


@router.post(
    "/cases/{case_id}/transitions", operation_id="transition_case", response_model=s.CaseOut
)
async def transition_case(
    casework: Container, principal: CurrentPrincipal, case_id: str, body: s.TransitionIn
) -> s.CaseOut:
    """Move the case along the loop (or back on a relapse path, or reopen it)."""
    referral = (
        ReferralRequest(
            destination_type=body.referral.destination_type,
            destination=body.referral.destination,
            consent=body.referral.consent,
            override_reason=body.referral.override_reason,
        )
        if body.referral
        else None
    )
    asked = TransitionRequest(
        to_state=body.to_state,
        reason=body.reason,
        action_taken=body.action_taken,
        referral=referral,
        outcome=body.outcome,
    )

    async def work(conn: asyncpg.Connection, caller: Caller, cw: Casework) -> s.CaseOut:
        await loop.transition_case(
            conn,
            caller,
            cw.cipher,
            case_id,
            asked,
            expected_version=body.expected_version,
            traceparent=current_traceparent(),
        )
        return await _view(conn, caller, case_id)

    return await in_campus(casework, principal, work)


@router.post("/cases/{case_id}/assignment", operation_id="assign_case", response_model=s.CaseOut)
async def assign_case(
    casework: Container, principal: CurrentPrincipal, case_id: str, body: s.AssignmentIn
) -> s.CaseOut:
    """Hand the case to someone holding a role for this student (tier 5+ or campus admin)."""

    async def work(conn: asyncpg.Connection, caller: Caller, cw: Casework) -> s.CaseOut:
        await loop.assign_case(
            conn,
            caller,
            cw.cipher,
            case_id,
            body.owner_ref,
            body.owner_role,
            traceparent=current_traceparent(),
        )
        return await _view(conn, caller, case_id)

    return await in_campus(casework, principal, work)


@router.post(
    "/cases/{case_id}/referral/status", operation_id="update_referral", response_model=s.CaseOut
)
async def update_referral(
    casework: Container, principal: CurrentPrincipal, case_id: str, body: s.ReferralStatusIn
) -> s.CaseOut:
    """Advance the referral; `returned` moves the case to aftercare and schedules a follow-up."""

    async def work(conn: asyncpg.Connection, caller: Caller, cw: Casework) -> s.CaseOut:
        await loop.move_referral(
            conn,
            caller,
            cw.cipher,
            case_id,
            body.status,
            follow_up_due=body.follow_up_due,
            traceparent=current_traceparent(),
        )
        return await _view(conn, caller, case_id)

    return await in_campus(casework, principal, work)


@router.post(
    "/cases/{case_id}/family-consent",
    operation_id="record_family_consent",
    response_model=s.ConsentOut,
    status_code=status.HTTP_201_CREATED,
)
async def record_family_consent(
    casework: Container, principal: CurrentPrincipal, case_id: str, body: s.FamilyConsentIn
) -> s.ConsentOut:
    """Record the family-contact decision: consent given, declined or withdrawn, or an
    override by tier 5+ with a reason. Notify contacts a family only after consent or
    override, and stops every message not yet sent when it is withdrawn."""

    async def work(conn: asyncpg.Connection, caller: Caller, cw: Casework) -> s.ConsentOut:
        consent_id = await loop.record_family_consent(
            conn,
            caller,
            cw.cipher,
            case_id,
            body.decision,
            body.reason,
            traceparent=current_traceparent(),
        )
        return s.ConsentOut(consent_id=consent_id)

    return await in_campus(casework, principal, work)


@router.post(
    "/alerts/{alert_id}/acknowledgement",
    operation_id="acknowledge_alert",
    response_model=s.AlertOut,
)
async def acknowledge_alert(
    casework: Container, principal: CurrentPrincipal, alert_id: str
) -> s.AlertOut:
    """Acknowledge an alert: you take ownership and triage stops escalating it."""

    async def work(conn: asyncpg.Connection, caller: Caller, cw: Casework) -> s.AlertOut:
        a = await loop.acknowledge_alert(
            conn, caller, cw.cipher, alert_id, traceparent=current_traceparent()
        )
        return alert_out(a)

    return await in_campus(casework, principal, work)
