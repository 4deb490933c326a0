"""Who is asking, about which student: the one access rule of casework, and the audit log.

The rule, for the case half and the student-file half alike (`in_scope`): a caller's scope is
the grants in their token and the roster assignments they hold in the role the token carries
(a person's scope as dorm leader says nothing about what they may see as counselor); tier 6
and campus admins see the whole campus. Outside their scope, tier 4+ staff read a student's
data only while a break-the-glass grant of theirs is open (`break_glass_open`). Students never
see case data. Every read of a student's data is appended to the audit log in the same
transaction; a refused read raises `ReadRefused`, which `http_common.in_campus` writes to the
audit log in a transaction of its own (the refused request's own transaction rolls back).

What a row of the log stands for. A single read (a case, a file, its history, its notes, a
refusal, anything under break-the-glass) is one row per read, always. A listing read (a page
of the queue `case.queue.read`, of the awaiting list `case.awaiting.read`, the names behind a
page `student.card.read`) is coalesced (`audit_listing`): live pages refresh every 15 s, and
a row per student per refresh (24,000 an hour for one open tab of 100 cases) repeats itself
until no auditor can read the log. A student shown to a reader, in a role, through a page is
recorded at the first showing, exactly (`at`); the showings after it within the window
(`CASEWORK_AUDIT_LIST_WINDOW_SECONDS`, 15 minutes) write nothing, and the first showing after
the window writes a new row. So for each student the log answers who, through which page,
first (the earliest row, exact) and last (after the latest row's `at`, before its
`covers_until`); a different reader, role or page is recorded on its own. The whole page is
one INSERT, whatever its size; audit_log stays append-only (nothing is updated to extend a
row: the window is fixed when the row is written).

Two tabs refreshing at the same instant may both write a student's row (neither sees the
other's uncommitted one): a row too many, never one too few. HTTP conditional requests (an
ETag, 304 Not Modified) were weighed and left out: the server must read the page to know it is
unchanged, and a 304 still shows the reader every student on it, so it would change neither
the read nor what must be recorded; the window already makes an idle tab's refreshes write
nothing.

How much a reader sees is the need-to-know line (`domain.guards.reading_of`): free text for
tier 4+ in scope, the case's owner and tier 6; structured facts for college leaders of the
student's college; nothing for campus admins, auditors, platform admins and students.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import asyncpg
from shouwang_contracts.auth import Placement, Principal, ScopeGrant
from shouwang_contracts.pseudonym import Pseudonymizer

from ..adapters.audit import active_break_glass, record_access, record_listing
from ..adapters.roster import placement_of, scope_of
from ..domain.guards import (
    Actor,
    CaseRuleViolation,
    NotPermitted,
    Reading,
    may_read_cases,
    reading_of,
)


class CaseNotFound(CaseRuleViolation):
    """No such case (or alert, note, follow-up) in the caller's campus."""

    status = 404


class ReadRefused(NotPermitted):
    """A read of a student's data the caller may not make: audited on its own, so the entry
    survives the refused request's rollback."""

    def __init__(
        self, refusal: NotPermitted, *, principal_ref: str, role: str, student_ref: str, action: str
    ) -> None:
        super().__init__(
            refusal.code,
            refusal.detail,
            field=refusal.field,
            detail_zh=refusal.detail_zh,
            field_message=refusal.field_message,
            field_message_zh=refusal.field_message_zh,
        )
        self.principal_ref = principal_ref
        self.role = role
        self.student_ref = student_ref
        self.action = action


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated principal with their pseudonymous person reference."""

    principal: Principal
    person_ref: str

    @classmethod
    def of(cls, principal: Principal, pseudonymizer: Pseudonymizer) -> Caller:
        """Staff `person_ref` = person_ref(campus, sub), as the roster import computes it."""
        return cls(principal, pseudonymizer.person_ref(principal.campus_id, principal.sub))


def refuse_students(caller: Caller) -> None:
    """Tiers 1-3 never see case data, whatever they ask for."""
    role = caller.principal.role
    if role.is_student:
        raise NotPermitted("students_have_no_case_access", "students never see case data")
    if not may_read_cases(Actor(caller.person_ref, role, in_scope=True)):
        raise NotPermitted(
            "role_has_no_case_access",
            f"role {role.value} does not see cases",
            detail_zh=f"{role.label()}不能查看个案",
        )


async def scope_grants(conn: asyncpg.Connection, caller: Caller) -> list[ScopeGrant]:
    """The caller's scope: their token's grants and their roster assignments in the token's role."""
    principal = caller.principal
    return [*principal.scope, *(await scope_of(conn, caller.person_ref, principal.role.value))]


async def in_scope(conn: asyncpg.Connection, caller: Caller, placement: Placement) -> bool:
    """Whether a student placed at `placement` is in the caller's scope (see the module)."""
    if caller.principal.covers(placement):  # campus-wide, or a grant in the token
        return True
    return any(placement.matches(g) for g in await scope_grants(conn, caller))


async def break_glass_open(conn: asyncpg.Connection, caller: Caller, student_ref: str) -> bool:
    """Whether a break-the-glass grant of the caller's opens this student's data now."""
    tier = caller.principal.role.tier
    return (
        tier is not None
        and int(tier) >= 4
        and await active_break_glass(conn, caller.person_ref, student_ref)
    )


async def actor_for(conn: asyncpg.Connection, caller: Caller, student_ref: str) -> Actor:
    """The caller as an actor on this student's case, with their scope resolved."""
    principal = caller.principal
    if principal.campus_wide:
        return Actor(caller.person_ref, principal.role, in_scope=True)
    placement = await placement_of(conn, student_ref)
    if placement is None:
        return Actor(caller.person_ref, principal.role, in_scope=False)
    return Actor(
        caller.person_ref, principal.role, in_scope=await in_scope(conn, caller, placement)
    )


async def authorize_read(
    conn: asyncpg.Connection,
    caller: Caller,
    student_ref: str,
    action: str,
    *,
    owner_ref: str | None = None,
    needs: Reading = Reading.FACTS,
) -> Reading:
    """Allow a read of case data about the student, write it to the audit log, and say how
    much the caller sees (free text, or structured facts only).

    Outside their scope, tier 4+ staff may still read under an active break-the-glass grant;
    the audit entry then carries the flag. `owner_ref` is the case's owner (who reads free
    text wherever the student is placed); `needs` is what the read is for: a read of free
    text alone (notes) is refused to a reader who would see facts only.
    """
    try:
        refuse_students(caller)
        actor = await actor_for(conn, caller, student_ref)
        break_glass = False
        owner = owner_ref is not None and owner_ref == caller.person_ref
        if not (may_read_cases(actor) or owner):
            break_glass = await break_glass_open(conn, caller, student_ref)
        reading = reading_of(actor, owner=owner, break_glass=break_glass)
        if reading is None:
            raise NotPermitted("out_of_scope", "this student is outside your scope")
        if needs is Reading.FULL and reading is not Reading.FULL:
            raise NotPermitted(
                "free_text_need_to_know",
                "notes and other free text are for tier 4+ staff in scope, the case's owner "
                "and the counseling center",
            )
    except NotPermitted as refusal:
        raise ReadRefused(
            refusal,
            principal_ref=caller.person_ref,
            role=caller.principal.role.value,
            student_ref=student_ref,
            action=action,
        ) from None
    await audit_read(conn, caller, student_ref, action, break_glass=break_glass)
    return reading


async def audit_read(
    conn: asyncpg.Connection,
    caller: Caller,
    student_ref: str | None,
    action: str,
    *,
    reason: str | None = None,
    break_glass: bool = False,
) -> None:
    """Log a single read already allowed (e.g. a file), or refused (`reason`: the refusal)."""
    await record_access(
        conn,
        principal_ref=caller.person_ref,
        role=caller.principal.role.value,
        student_ref=student_ref,
        action=action,
        reason=reason,
        break_glass=break_glass,
    )


async def audit_listing(
    conn: asyncpg.Connection,
    caller: Caller,
    student_refs: list[str],
    action: str,
    *,
    window: timedelta,
) -> int:
    """Log that a page listed these students to the caller, coalesced within `window` (see
    the module); returns the rows written. Only for rows already in the caller's scope: a
    listing never shows a student by break-the-glass."""
    return await record_listing(
        conn,
        principal_ref=caller.person_ref,
        role=caller.principal.role.value,
        student_refs=student_refs,
        action=action,
        window=window,
    )
