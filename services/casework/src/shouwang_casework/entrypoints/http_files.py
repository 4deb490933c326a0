"""HTTP: the student file (档案), break-the-glass, and the audit log.

The use cases and who may read what are `service_layer.files`'s (scope by the one rule of
`service_layer.access`); this checks the caller's role, turns numbers an auditor searches by
into the pseudonyms the log holds, and answers.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from shouwang_contracts.auth import Principal
from shouwang_contracts.inputs import IsoDatetime
from shouwang_contracts.vocabulary import Role
from shouwang_servicekit.problems import BIGINT_MAX
from shouwang_servicekit.security import CurrentPrincipal, require_roles, role_forbidden

from ..adapters import audit
from ..service_layer import files
from . import http_records_schemas as s
from .http_common import Container, in_campus, refusal

router = APIRouter(tags=["student file"])
Auditor = Annotated[Principal, Depends(require_roles(Role.AUDITOR))]
Reviewer = Annotated[Principal, Depends(require_roles(Role.COUNSELING_CENTER))]


def _grant_out(grant: audit.BreakGlassGrant) -> s.BreakGlassGrantOut:
    return s.BreakGlassGrantOut.model_validate(grant, from_attributes=True)


@router.get(
    "/v1/students/{student_ref}/file",
    operation_id="read_student_file",
    response_model=s.StudentFileOut,
)
async def read_student_file(
    casework: Container, principal: CurrentPrincipal, student_ref: str
) -> s.StudentFileOut:
    """Every report, screening, assessment, case, plan and note of one student, audited."""
    if principal.role not in files.FILE_READERS:
        raise role_forbidden(
            principal.role, files.FILE_READERS, ("查看学生档案", "read student files")
        )
    read = await in_campus(
        casework,
        principal,
        lambda conn, caller, cw: files.read_student_file(conn, caller, cw.cipher, student_ref),
    )
    if read.refusal is not None:  # raised only now: the refusal's audit entry is committed
        raise refusal(read.refusal)
    return s.StudentFileOut(
        **read.file,
        access=s.FileAccessOut(break_glass=read.break_glass, free_text=read.free_text),
    )


@router.post(
    "/v1/students/{student_ref}/break-glass",
    operation_id="break_glass",
    status_code=status.HTTP_201_CREATED,
    response_model=s.BreakGlassGrantOut,
    responses={
        409: {"description": "The student is in your scope already."},
        429: {"description": "The caller broke the glass as often as a day allows."},
    },
)
async def break_glass(
    casework: Container, principal: CurrentPrincipal, student_ref: str, body: s.BreakGlassIn
) -> s.BreakGlassGrantOut:
    """Open one student's file for a limited time to a tier-4+ staff member, flagged in audit."""
    if principal.role not in files.GLASS_BREAKERS:
        raise role_forbidden(
            principal.role, files.GLASS_BREAKERS, ("申请临时查看", "break the glass")
        )
    cap = casework.settings.break_glass_minutes
    minutes = min(body.minutes or cap, cap)
    grant = await in_campus(
        casework,
        principal,
        lambda conn, caller, cw: files.break_the_glass(
            conn,
            caller,
            cw.cipher,
            student_ref,
            body.reason,
            minutes=minutes,
            per_day=cw.settings.break_glass_per_day,
        ),
    )
    return _grant_out(grant)


@router.get("/v1/audit", operation_id="list_audit_log", response_model=s.AuditPage)
async def list_audit_log(
    casework: Container,
    principal: Auditor,
    student_ref: str | None = None,
    person_ref: str | None = None,
    student_no: Annotated[
        str | None, Query(description="学号, turned into its student_ref.")
    ] = None,
    staff_no: Annotated[str | None, Query(description="工号/学号 of the reader.")] = None,
    break_glass: Annotated[bool, Query(description="Only break-the-glass entries.")] = False,
    since: Annotated[
        IsoDatetime | None,
        Query(
            description="Entries at or after this time, and listing entries (`covers_until`) "
            "whose span reaches past it."
        ),
    ] = None,
    until: Annotated[IsoDatetime | None, Query(description="Entries before this time.")] = None,
    before_id: Annotated[
        int | None, Query(ge=1, le=BIGINT_MAX, description="Cursor: next_before_id of a page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> s.AuditPage:
    """The audit log, newest first, for auditors; this look is itself logged.

    Filter by pseudonym (`student_ref`, `person_ref`) or by number (`student_no`, `staff_no`),
    which is turned into the same pseudonym the log holds.
    """
    pseudonymizer = casework.pseudonymizer
    if student_no:
        student_ref = pseudonymizer.student_ref(principal.campus_id, student_no)
    if staff_no:
        person_ref = pseudonymizer.person_ref(principal.campus_id, staff_no)
    query = audit.AuditQuery(
        student_ref=student_ref,
        principal_ref=person_ref,
        break_glass_only=break_glass,
        since=since,
        until=until,
        before_id=before_id,
        limit=limit,
    )
    items = await in_campus(
        casework, principal, lambda conn, caller, _: files.audit_log(conn, caller, query)
    )
    return s.AuditPage(
        items=[s.AuditEntryOut.model_validate(item) for item in items],
        next_before_id=items[-1]["id"] if len(items) == limit else None,
    )


@router.get(
    "/v1/audit/break-glass",
    operation_id="list_break_glass_grants",
    response_model=s.BreakGlassGrantList,
)
async def list_break_glass_grants(
    casework: Container,
    principal: CurrentPrincipal,
    unreviewed: bool = True,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> s.BreakGlassGrantList:
    """Break-the-glass grants (the review queue by default), for tier 6 and auditors."""
    if principal.role not in files.GRANT_REVIEWERS:
        raise role_forbidden(
            principal.role,
            files.GRANT_REVIEWERS,
            ("查阅临时查看授权的复核队列", "see the break-the-glass review queue"),
        )
    grants = await in_campus(
        casework,
        principal,
        lambda conn, caller, cw: files.break_glass_grants(
            conn, caller, cw.cipher, unreviewed=unreviewed, limit=limit
        ),
    )
    return s.BreakGlassGrantList(items=[_grant_out(g) for g in grants])


@router.post(
    "/v1/audit/break-glass/{grant_id}/review",
    operation_id="review_break_glass",
    response_model=s.BreakGlassGrantOut,
)
async def review_break_glass(
    casework: Container, principal: Reviewer, grant_id: str, body: s.BreakGlassReviewIn
) -> s.BreakGlassGrantOut:
    """Record the review of a break-the-glass grant; a reviewed grant keeps its first review."""
    grant = await in_campus(
        casework,
        principal,
        lambda conn, caller, cw: files.review_break_glass(
            conn, caller, cw.cipher, grant_id, body.outcome, body.note
        ),
    )
    return _grant_out(grant)
