"""The staff queue (/v1): the cases in my scope and their count, the alerts awaiting my
acknowledgement and theirs.

Included before `http_cases`' router: `/v1/cases/count` must come before
`/v1/cases/{case_id}`, which would otherwise take `count` for a case id. The counts name no
student, so they audit nothing (and are no audited read at the edge: `RouteMatch`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Depends, Query
from shouwang_contracts.events.casework import CaseState
from shouwang_contracts.vocabulary import Severity
from shouwang_servicekit.security import CurrentPrincipal

from ..adapters.queue import QueueFilter
from ..container import Casework
from ..service_layer import loop, views
from ..service_layer.access import Caller
from . import http_schemas as s
from .http_common import Container, in_campus

router = APIRouter(prefix="/v1", tags=["cases"], responses=s.PROBLEMS)


def queue_filter(
    state: Annotated[list[CaseState] | None, Query(description="Only these states.")] = None,
    severity: Annotated[list[Severity] | None, Query(description="Only these severities.")] = None,
    unowned: Annotated[bool, Query(description="Only cases nobody owns yet.")] = False,
    include_closed: Annotated[bool, Query(description="Closed cases too.")] = False,
) -> QueueFilter:
    """The queue's filters, the same for its list and its count."""
    return QueueFilter(
        states=[x.value for x in state] if state else None,
        severities=[x.value for x in severity] if severity else None,
        unowned_only=unowned,
        include_closed=include_closed,
    )


QueueFilters = Annotated[QueueFilter, Depends(queue_filter)]
Mine = Annotated[
    bool,
    Query(
        description="Only cases I own (not the alerts awaiting my acknowledgement: "
        "`GET /v1/alerts/awaiting-me`)."
    ),
]


@router.get("/cases", operation_id="list_cases", response_model=s.CasePage)
async def list_cases(
    casework: Container,
    principal: CurrentPrincipal,
    filters: QueueFilters,
    mine: Mine = False,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> s.CasePage:
    """My queue: cases in my scope by severity, then the nearest deadline."""
    query = replace(filters, limit=limit, offset=offset)

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


@router.get("/cases/count", operation_id="count_cases", response_model=s.CaseCount)
async def count_cases(
    casework: Container, principal: CurrentPrincipal, filters: QueueFilters, mine: Mine = False
) -> s.CaseCount:
    """How many cases my queue holds with these filters (`list_cases`' `total`): for the
    queue's "in my scope" figure. Names no student, so nothing is audited."""

    async def work(conn: asyncpg.Connection, caller: Caller, cw: Casework) -> s.CaseCount:
        return s.CaseCount(total=await views.queue_count(conn, caller, filters, mine=mine))

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
