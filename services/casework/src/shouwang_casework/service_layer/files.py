"""The student file (档案), break-the-glass, and the audit log.

Who reads a file: tier 4-5 staff and college leaders for students in their scope (the one
rule, `access.in_scope`), tier 6 and campus admins campus-wide, and tier 4+ staff outside
their scope while a break-the-glass grant of theirs is open. Students of tiers 1-3, auditors
and platform admins never (their roles are refused at the edge). Every read, every refused
read and every break-the-glass goes into the append-only audit log: a refused read is
returned, not raised, so that its audit entry commits with the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import asyncpg
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.vocabulary import Role

from ..adapters import audit
from ..adapters import files as file_store
from ..adapters.roster import placement_of
from ..domain.guards import CaseRuleViolation, NotPermitted
from .access import Caller, CaseNotFound, audit_read, break_glass_open, in_scope

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
GRANT_REVIEWERS = frozenset({Role.COUNSELING_CENTER, Role.AUDITOR})


def _no_such_student() -> CaseNotFound:
    return CaseNotFound("student_not_found", "No such student in the roster")


@dataclass(frozen=True, slots=True)
class FileRead:
    """A read of a student's file: the file, or the refusal (audited either way)."""

    file: dict[str, Any]
    break_glass: bool
    refusal: CaseRuleViolation | None = None


async def read_student_file(
    conn: asyncpg.Connection, caller: Caller, cipher: NoteCipher, student_ref: str
) -> FileRead:
    """Every report, screening, assessment, case, plan and note of one student, notes opened,
    if the caller may read them; the read or its refusal written to the audit log."""
    principal = caller.principal
    placement = await placement_of(conn, student_ref)
    refusal: CaseRuleViolation | None = None
    break_glass = False
    if placement is None and not principal.campus_wide:
        refusal = _no_such_student()
    elif placement is not None and not await in_scope(conn, caller, placement):
        break_glass = await break_glass_open(conn, caller, student_ref)
        if not break_glass:
            refusal = NotPermitted(
                "out_of_scope",
                "The student is outside your scope; in an emergency, break the glass with a "
                "written reason",
                # More than the loop's wording: a file can be opened by breaking the glass.
                detail_zh="该学生不在您的负责范围内；如确有紧急需要，可填写理由申请临时查看",
            )
    if refusal is not None:
        await audit_read(conn, caller, student_ref, "file.read.refused", reason=refusal.code)
        return FileRead({}, False, refusal)
    file = await file_store.read_student_file(conn, cipher, principal.campus_id, student_ref)
    await audit_read(conn, caller, student_ref, "file.read", break_glass=break_glass)
    return FileRead(file, break_glass)


async def break_the_glass(
    conn: asyncpg.Connection, caller: Caller, student_ref: str, reason: str, minutes: int
) -> audit.BreakGlassGrant:
    """Open one student's file for `minutes` to a tier-4+ staff member outside its scope,
    flagged in the audit log for tier 6 to review."""
    placement = await placement_of(conn, student_ref)
    if placement is None:
        raise _no_such_student()
    if await in_scope(conn, caller, placement):
        raise CaseRuleViolation(
            "already_in_scope", "The student is in your scope already; read the file directly"
        )
    return await audit.grant_break_glass(
        conn,
        person_ref=caller.person_ref,
        role=caller.principal.role.value,
        student_ref=student_ref,
        reason=reason,
        duration=timedelta(minutes=minutes),
    )


async def audit_log(
    conn: asyncpg.Connection, caller: Caller, query: audit.AuditQuery
) -> list[dict[str, Any]]:
    """The audit log, newest first, for auditors; this look is itself logged."""
    items = await audit.list_audit(conn, query)
    await audit_read(conn, caller, query.student_ref, "audit.read")
    return items


async def break_glass_grants(
    conn: asyncpg.Connection, caller: Caller, *, unreviewed: bool, limit: int
) -> list[audit.BreakGlassGrant]:
    """Break-the-glass grants (the review queue when `unreviewed`), newest first."""
    return await audit.list_break_glass(conn, unreviewed_only=unreviewed, limit=limit)


async def review_break_glass(
    conn: asyncpg.Connection,
    caller: Caller,
    grant_id: str,
    outcome: Literal["justified", "unjustified"],
    note: str | None,
) -> audit.BreakGlassGrant:
    """Record tier 6's review of a grant; a reviewed grant keeps its first review."""
    grant = await audit.review_break_glass(
        conn,
        grant_id,
        reviewer_ref=caller.person_ref,
        reviewer_role=caller.principal.role.value,
        outcome=outcome,
        note=note,
    )
    if grant is None:
        raise CaseNotFound("grant_not_found", "No such break-the-glass grant")
    return grant
