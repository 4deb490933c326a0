"""The student file (档案), break-the-glass, and the audit log.

Who reads a file: tier 4-5 staff for students in their scope (the one rule,
`access.in_scope`), tier 6 campus-wide, and tier 4+ staff outside their scope while a
break-the-glass grant of theirs is open; college leaders read the structured facts of their
college's students, free text withheld. Students of tiers 1-3, campus admins, auditors and
platform admins never (their roles are refused at the edge). Every read, every refused
read and every break-the-glass goes into the append-only audit log: a refused read is
returned, not raised, so that its audit entry commits with the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import asyncpg
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.events.casework import BreakGlassOpened
from shouwang_contracts.trace import current_traceparent
from shouwang_contracts.vocabulary import Role

from ..adapters import audit
from ..adapters import files as file_store
from ..adapters.roster import placement_of
from ..domain.guards import CaseRuleViolation, NotPermitted
from .access import Caller, CaseNotFound, audit_read, break_glass_open, in_scope
from .events import publish

# Campus admins manage rosters and contacts and read no case content; college leaders read
# the structured facts of their college's students (the need-to-know line, README).
FILE_READERS = frozenset(
    {
        Role.RESIDENCE_COUNSELOR,
        Role.COMMUNITY_PSYCH_TEACHER,
        Role.COUNSELING_CENTER,
        Role.COLLEGE_LEADER,
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
    free_text: bool = True  # False: structured facts only (a college leader)


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
    free_text = principal.role is not Role.COLLEGE_LEADER
    file = await file_store.read_student_file(
        conn, cipher, principal.campus_id, student_ref, free_text=free_text
    )
    await audit_read(conn, caller, student_ref, "file.read", break_glass=break_glass)
    return FileRead(file, break_glass, free_text=free_text)


class DailyCapReached(CaseRuleViolation):
    """The caller broke the glass as often as a day allows."""

    status = 429


async def break_the_glass(
    conn: asyncpg.Connection,
    caller: Caller,
    cipher: NoteCipher,
    student_ref: str,
    reason: str,
    *,
    minutes: int,
    per_day: int,
) -> audit.BreakGlassGrant:
    """Open one student's file for `minutes` to a tier-4+ staff member outside its scope, at
    most `per_day` times a day per person: flagged in the audit log, the reason sealed, and
    the counseling center told at once (`BreakGlassOpened`, through the outbox) to review it."""
    placement = await placement_of(conn, student_ref)
    if placement is None:
        raise _no_such_student()
    if await in_scope(conn, caller, placement):
        raise CaseRuleViolation(
            "already_in_scope", "The student is in your scope already; read the file directly"
        )
    if await audit.grants_since(conn, caller.person_ref, timedelta(days=1)) >= per_day:
        raise DailyCapReached(
            "break_glass_daily_cap",
            f"You broke the glass {per_day} times in the last 24 hours; ask the counseling "
            "center, who sees the whole campus",
            detail_zh=f"您在 24 小时内已申请临时查看 {per_day} 次，已达上限；请联系心理中心",
        )
    grant = await audit.grant_break_glass(
        conn,
        cipher,
        person_ref=caller.person_ref,
        role=caller.principal.role.value,
        student_ref=student_ref,
        reason=reason,
        duration=timedelta(minutes=minutes),
    )
    await publish(
        conn,
        caller.principal.campus_id,
        BreakGlassOpened(
            grant_id=grant.id,
            student_ref=student_ref,
            person_ref=grant.person_ref,
            role=Role(grant.role),
            granted_at=grant.granted_at,
            expires_at=grant.expires_at,
        ),
        current_traceparent(),
    )
    return grant


async def audit_log(
    conn: asyncpg.Connection, caller: Caller, query: audit.AuditQuery
) -> list[dict[str, Any]]:
    """The audit log, newest first, for auditors; this look is itself logged."""
    items = await audit.list_audit(conn, query)
    await audit_read(conn, caller, query.student_ref, "audit.read")
    return items


async def break_glass_grants(
    conn: asyncpg.Connection,
    caller: Caller,
    cipher: NoteCipher,
    *,
    unreviewed: bool,
    limit: int,
) -> list[audit.BreakGlassGrant]:
    """Break-the-glass grants (the review queue when `unreviewed`), newest first."""
    return await audit.list_break_glass(conn, cipher, unreviewed_only=unreviewed, limit=limit)


async def review_break_glass(
    conn: asyncpg.Connection,
    caller: Caller,
    cipher: NoteCipher,
    grant_id: str,
    outcome: Literal["justified", "unjustified"],
    note: str | None,
) -> audit.BreakGlassGrant:
    """Record tier 6's review of a grant; a reviewed grant keeps its first review."""
    grant = await audit.review_break_glass(
        conn,
        cipher,
        grant_id,
        reviewer_ref=caller.person_ref,
        reviewer_role=caller.principal.role.value,
        outcome=outcome,
        note=note,
    )
    if grant is None:
        raise CaseNotFound("grant_not_found", "No such break-the-glass grant")
    return grant
