"""Who is asking, about which student: scope from the roster and the token, and the audit log.

A staff member's scope is the union of their roster assignments (`scope_of`) and the grants
in their token; tier 6 and campus admins see the whole campus; students never see case data.
Every read of case data about a student is appended to the audit log in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from shouwang_contracts.auth import Principal
from shouwang_contracts.pseudonym import Pseudonymizer

from ..adapters.audit import active_break_glass, record_access
from ..adapters.roster import placement_of, scope_of
from ..domain.guards import Actor, CaseRuleViolation, NotPermitted, may_read_cases


class CaseNotFound(CaseRuleViolation):
    """No such case (or alert, note, follow-up) in the caller's campus."""

    status = 404


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


async def actor_for(conn: asyncpg.Connection, caller: Caller, student_ref: str) -> Actor:
    """The caller as an actor on this student's case, with their scope resolved."""
    principal = caller.principal
    if principal.campus_wide:
        return Actor(caller.person_ref, principal.role, in_scope=True)
    placement = await placement_of(conn, student_ref)
    if placement is None:
        return Actor(caller.person_ref, principal.role, in_scope=False)
    grants = {*principal.scope, *(await scope_of(conn, caller.person_ref))}
    in_scope = any(placement.matches(g) for g in grants)
    return Actor(caller.person_ref, principal.role, in_scope=in_scope)


async def authorize_read(
    conn: asyncpg.Connection, caller: Caller, student_ref: str, action: str
) -> Actor:
    """Allow a read of case data about the student, and write it to the audit log.

    Outside their scope, tier 4+ staff may still read under an active break-the-glass grant;
    the audit entry then carries the flag.
    """
    refuse_students(caller)
    actor = await actor_for(conn, caller, student_ref)
    break_glass = False
    if not may_read_cases(actor):
        break_glass = (actor.tier >= 4) and await active_break_glass(
            conn, caller.person_ref, student_ref
        )
        if not break_glass:
            raise NotPermitted("out_of_scope", "this student is outside your scope")
    await record_access(
        conn,
        principal_ref=caller.person_ref,
        role=caller.principal.role.value,
        student_ref=student_ref,
        action=action,
        break_glass=break_glass,
    )
    return actor


async def audit_read(
    conn: asyncpg.Connection, caller: Caller, student_ref: str, action: str
) -> None:
    """Log a read already allowed (e.g. one queue row)."""
    await record_access(
        conn,
        principal_ref=caller.person_ref,
        role=caller.principal.role.value,
        student_ref=student_ref,
        action=action,
    )
