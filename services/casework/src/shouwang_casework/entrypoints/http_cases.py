"""The staff case API (/v1): a counselor's day — queue, case, history, moves, notes, plan,
follow-ups, referral, consent and alert acknowledgement.

Every call authenticates, runs in one campus transaction (row-level security) and is checked
against role, tier and scope by the service layer; a refused rule answers problem+json with
the rule's code and the field that is missing.
"""

from __future__ import annotations

from typing import Annotated

import asyncpg
from fastapi import APIRouter, Query, status
from shouwang_contracts.trace import current_traceparent
from shouwang_servicekit.security import CurrentPrincipal

from ..adapters.alerts import AlertRecord
from ..adapters.queue import QueueFilter
from ..container import Casework
from ..domain.cases import TransitionRequest, allowed_targets
from ..domain.followup import FollowUp
from ..domain.guards import Reading
from ..domain.plan import Plan
from ..domain.referral import ReferralRequest
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
    )


async def _view(conn: asyncpg.Connection, caller: Caller, case_id: str) -> s.CaseOut:
    return _case_out(await views.case_view(conn, caller, case_id))


@router.get("/cases", operation_id="list_cases", response_model=s.CasePage)
async def list_cases(
    casework: Container,
    principal: CurrentPrincipal,
    state: Annotated[list[s.CaseState] | None, Query(description="Only these states.")] = None,
    severity: Annotated[
        list[s.Severity] | None, Query(description="Only these severities.")
    ] = None,
    mine: Annotated[
        bool,
        Query(
            description="Only cases I own (not the alerts awaiting my acknowledgement: "
            "`GET /v1/alerts/awaiting-me`)."
        ),
    ] = False,
    unowned: Annotated[bool, Query(description="Only cases nobody owns yet.")] = False,
    include_closed: Annotated[bool, Query(description="Closed cases too.")] = False,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> s.CasePage:
    """My queue: cases in my scope by severity, then the nearest deadline."""
    query = QueueFilter(
        states=[x.value for x in state] if state else None,
        severities=[x.value for x in severity] if severity else None,
        unowned_only=unowned,
        include_closed=include_closed,
        limit=limit,
        offset=offset,
    )

    async def work(conn: asyncpg.Connection, caller: Caller, cw: Casework) -> s.CasePage:
        rows, total = await views.queue(
            conn, caller, query, mine=mine, audit_window=cw.settings.audit_list_window
        )
        return s.CasePage(
            items=[
                s.CaseSummary(
                    case_id=row.case_id,
                    student_ref=row.student_ref,
                    state=row.state,
                    severity=row.severity,
                    owner_ref=row.owner_ref,
                    owner_role=row.owner_role,
                    opened_at=row.opened_at,
                    updated_at=row.updated_at,
                    deadline=row.deadline,
                    unacknowledged_alerts=row.unacknowledged_alerts,
                    missed_follow_ups=row.missed_follow_ups,
                    version=row.version,
                )
                for row in rows
            ],
            total=total,
            limit=limit,
            offset=offset,
        )

    return await in_campus(casework, principal, work)


@router.get("/alerts/awaiting-me", operation_id="list_awaiting_me", response_model=s.AwaitingPage)
async def list_awaiting_me(
    casework: Container,
    principal: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> s.AwaitingPage:
    """Alerts awaiting my acknowledgement: unacknowledged, about students in my scope, owned
    where my tier is the lowest that may stop them (a lower tier's alert waits for it until
    it climbs), the gravest first, then the longest waiting. Each has its waiting time and
    when it escalates next."""

    async def work(conn: asyncpg.Connection, caller: Caller, cw: Casework) -> s.AwaitingPage:
        rows, total = await views.awaiting_me(
            conn, caller, limit=limit, offset=offset, audit_window=cw.settings.audit_list_window
        )
        at = loop.now()
        return s.AwaitingPage(
            items=[
                s.AwaitingAlert(
                    alert_id=row.alert_id,
                    case_id=row.case_id,
                    student_ref=row.student_ref,
                    severity=row.severity,
                    owner_role=row.owner_role,
                    escalation_level=row.escalation_level,
                    raised_at=row.raised_at,
                    waiting_seconds=max(0, int((at - row.raised_at).total_seconds())),
                    escalates_at=row.ack_deadline,
                    overdue=row.ack_deadline <= at,
                )
                for row in rows
            ],
            total=total,
            limit=limit,
            offset=offset,
            now=at,
        )

    return await in_campus(casework, principal, work)


@router.get(
    "/alerts/awaiting-me/count",
    operation_id="count_awaiting_me",
    response_model=s.AwaitingCount,
)
async def count_awaiting_me(casework: Container, principal: CurrentPrincipal) -> s.AwaitingCount:
    """How many alerts await my acknowledgement (as `list_awaiting_me` would list them) and
    how many are overdue: for a badge. Names no student, so nothing is audited."""

    async def work(conn: asyncpg.Connection, caller: Caller, cw: Casework) -> s.AwaitingCount:
        total, overdue = await views.awaiting_count(conn, caller, loop.now())
        return s.AwaitingCount(total=total, overdue=overdue)

    return await in_campus(casework, principal, work)


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
