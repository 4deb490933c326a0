"""HTTP: the student file (档案), break-the-glass, and the audit log.

A break-the-glass grant lasts at most `CASEWORK_BREAK_GLASS_MINUTES` (default 120).

Who reads a file: tier 4-5 staff and college leaders whose scope covers the student's
placement (scope = the token's grants plus the person's roster assignments), tier 6 and campus
admins campus-wide, and tier 4+ staff outside the scope while a break-the-glass grant of theirs
is open. Students of tiers 1-3, auditors and platform admins never. Every read, every refused
read and every break-the-glass goes into the append-only audit log.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field, StringConstraints
from shouwang_contracts.auth import Placement, Principal
from shouwang_contracts.inputs import IsoDatetime
from shouwang_contracts.vocabulary import Role
from shouwang_servicekit.problems import BIGINT_MAX, Problem
from shouwang_servicekit.security import CurrentPrincipal, require_roles, role_forbidden

from ..adapters import audit
from ..adapters import roster as roster_repo
from ..adapters.db import campus_transaction
from ..adapters.files import read_student_file
from .http_deps import Container
from .http_roster import actor_ref

FILE_READERS = frozenset(
    {
        Role.RESIDENCE_COUNSELOR,
        Role.COMMUNITY_PSYCH_TEACHER,
        Role.COUNSELING_CENTER,
        Role.COLLEGE_LEADER,
        Role.CAMPUS_ADMIN,
    }
)
GLASS_BREAKERS = frozenset(
    {Role.RESIDENCE_COUNSELOR, Role.COMMUNITY_PSYCH_TEACHER, Role.COUNSELING_CENTER}
)

router = APIRouter(tags=["student file"])
Auditor = Annotated[Principal, Depends(require_roles(Role.AUDITOR))]
Reviewer = Annotated[Principal, Depends(require_roles(Role.COUNSELING_CENTER))]


def _no_such_student() -> Problem:
    return Problem(
        404,
        "student_not_found",
        "花名册中没有该学生",
        detail_en="No such student in the roster",
    )


async def _in_scope(conn: Any, principal: Principal, person_ref: str, placement: Placement) -> bool:
    if principal.covers(placement):
        return True
    grants = await roster_repo.scope_of(conn, person_ref, principal.role.value)
    return any(placement.matches(g) for g in grants)


@router.get("/v1/students/{student_ref}/file", operation_id="readStudentFile")
async def read_file(
    casework: Container, principal: CurrentPrincipal, student_ref: str
) -> dict[str, Any]:
    """Every report, screening, assessment, case, plan and note of one student, audited."""
    if principal.role not in FILE_READERS:
        raise role_forbidden(principal.role, FILE_READERS, ("查看学生档案", "read student files"))
    person_ref = actor_ref(casework, principal)
    refusal: Problem | None = None
    async with campus_transaction(casework.pool, principal.campus_id) as conn:
        placement = await roster_repo.placement_of(conn, student_ref)
        break_glass = False
        if placement is None and not principal.campus_wide:
            refusal = _no_such_student()
        elif placement is not None and not await _in_scope(conn, principal, person_ref, placement):
            break_glass = await audit.active_break_glass(conn, person_ref, student_ref)
            if not break_glass:
                refusal = Problem(
                    403,
                    "out_of_scope",
                    "该学生不在您的负责范围内；如确有紧急需要，可填写理由申请临时查看",
                    detail_en="The student is outside your scope; in an emergency, break the "
                    "glass with a written reason",
                )
        if refusal is not None:
            await audit.record_access(
                conn,
                principal_ref=person_ref,
                role=principal.role.value,
                student_ref=student_ref,
                action="file.read.refused",
                reason=refusal.code,
            )
            file: dict[str, Any] = {}
        else:
            file = await read_student_file(conn, casework.cipher, principal.campus_id, student_ref)
            await audit.record_access(
                conn,
                principal_ref=person_ref,
                role=principal.role.value,
                student_ref=student_ref,
                action="file.read",
                break_glass=break_glass,
            )
    if refusal is not None:
        raise refusal
    file["access"] = {"break_glass": break_glass}
    return file


class BreakGlassRequest(BaseModel):
    """Why the file must be opened now, by someone outside the student's scope."""

    reason: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=8, max_length=2000)
    ] = Field(description="Written reason, at least 8 characters besides spaces.")
    minutes: int | None = Field(
        default=None, ge=5, le=24 * 60, description="How long; capped by the configured maximum."
    )


@router.post("/v1/students/{student_ref}/break-glass", operation_id="breakGlass", status_code=201)
async def break_glass(
    casework: Container, principal: CurrentPrincipal, student_ref: str, body: BreakGlassRequest
) -> dict[str, Any]:
    """Open one student's file for a limited time to a tier-4+ staff member, flagged in audit."""
    if principal.role not in GLASS_BREAKERS:
        raise role_forbidden(principal.role, GLASS_BREAKERS, ("申请临时查看", "break the glass"))
    cap = casework.settings.break_glass_minutes
    minutes = min(body.minutes or cap, cap)
    person_ref = actor_ref(casework, principal)
    async with campus_transaction(casework.pool, principal.campus_id) as conn:
        placement = await roster_repo.placement_of(conn, student_ref)
        if placement is None:
            raise _no_such_student()
        if await _in_scope(conn, principal, person_ref, placement):
            raise Problem(
                409,
                "already_in_scope",
                "该学生已在您的负责范围内，可直接查看档案，无需申请临时查看",
                detail_en="The student is in your scope already; read the file directly",
            )
        grant = await audit.grant_break_glass(
            conn,
            person_ref=person_ref,
            role=principal.role.value,
            student_ref=student_ref,
            reason=body.reason,
            duration=timedelta(minutes=minutes),
        )
    return _grant_body(grant)


def _grant_body(grant: audit.BreakGlassGrant) -> dict[str, Any]:
    return {
        "id": grant.id,
        "person_ref": grant.person_ref,
        "role": grant.role,
        "student_ref": grant.student_ref,
        "reason": grant.reason,
        "granted_at": grant.granted_at.isoformat(),
        "expires_at": grant.expires_at.isoformat(),
        "reviewed_by": grant.reviewed_by,
        "reviewed_at": grant.reviewed_at.isoformat() if grant.reviewed_at else None,
        "review_outcome": grant.review_outcome,
        "review_note": grant.review_note,
    }


@router.get("/v1/audit", operation_id="listAuditLog")
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
    since: IsoDatetime | None = None,
    until: IsoDatetime | None = None,
    before_id: Annotated[
        int | None, Query(ge=1, le=BIGINT_MAX, description="Cursor: next_before_id of a page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
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
    async with campus_transaction(casework.pool, principal.campus_id) as conn:
        items = await audit.list_audit(conn, query)
        await audit.record_access(
            conn,
            principal_ref=actor_ref(casework, principal),
            role=principal.role.value,
            student_ref=student_ref,
            action="audit.read",
        )
    for item in items:
        item["at"] = item["at"].isoformat()
    return {
        "items": items,
        "next_before_id": items[-1]["id"] if len(items) == limit else None,
    }


@router.get("/v1/audit/break-glass", operation_id="listBreakGlassGrants")
async def list_break_glass_grants(
    casework: Container,
    principal: CurrentPrincipal,
    unreviewed: bool = True,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Break-the-glass grants (the review queue by default), for tier 6 and auditors."""
    if principal.role not in (Role.COUNSELING_CENTER, Role.AUDITOR):
        raise role_forbidden(
            principal.role,
            (Role.COUNSELING_CENTER, Role.AUDITOR),
            ("查阅临时查看授权的复核队列", "see the break-the-glass review queue"),
        )
    async with campus_transaction(casework.pool, principal.campus_id) as conn:
        grants = await audit.list_break_glass(conn, unreviewed_only=unreviewed, limit=limit)
    return {"items": [_grant_body(g) for g in grants]}


class BreakGlassReview(BaseModel):
    """A tier-6 reviewer's verdict on a break-the-glass."""

    outcome: Literal["justified", "unjustified"] = Field(description="Was the access justified?")
    note: str | None = Field(default=None, max_length=2000, description="Why, briefly.")


@router.post("/v1/audit/break-glass/{grant_id}/review", operation_id="reviewBreakGlass")
async def review_break_glass(
    casework: Container, principal: Reviewer, grant_id: str, body: BreakGlassReview
) -> dict[str, Any]:
    """Record the review of a break-the-glass grant; a reviewed grant keeps its first review."""
    reviewer_ref = actor_ref(casework, principal)
    async with campus_transaction(casework.pool, principal.campus_id) as conn:
        grant = await audit.review_break_glass(
            conn,
            grant_id,
            reviewer_ref=reviewer_ref,
            reviewer_role=principal.role.value,
            outcome=body.outcome,
            note=body.note,
        )
    if grant is None:
        raise Problem(
            404,
            "grant_not_found",
            "没有这条临时查看授权记录",
            detail_en="No such break-the-glass grant",
        )
    return _grant_body(grant)
