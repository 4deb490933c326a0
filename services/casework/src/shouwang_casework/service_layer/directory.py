"""Who a caller may look up: the report form's picker and the names on a staff queue.

A reporter of any tier picks the student from their own scope (token grants and their
roster assignments in the role they act in); a dorm-room leader sees their room, a floor
leader their floor. Staff read the names behind their queue's pseudonyms for students in
scope. Campus-wide callers must type at least two characters, so no one lists a whole campus.
Every lookup goes into the audit log, and so does every student it shows; names are shown,
never stored anywhere else. The students a picker shows and the names behind a page are
listing reads, coalesced like the page itself (`access.audit_listing`).
"""

from __future__ import annotations

from datetime import timedelta

import asyncpg
from shouwang_contracts.vocabulary import Role

from ..adapters.audit import record_access
from ..adapters.directory import StudentCard, find_students, students_by_ref
from ..domain.guards import CaseRuleViolation, NotPermitted
from .access import Caller, audit_listing, refuse_students, scope_grants

PICKERS = frozenset(
    {
        Role.DORM_LEADER,
        Role.FLOOR_LEADER,
        Role.CLASS_WELLBEING_OFFICER,
        Role.RESIDENCE_COUNSELOR,
        Role.COMMUNITY_PSYCH_TEACHER,
        Role.COUNSELING_CENTER,
        Role.COLLEGE_LEADER,
    }
)
MIN_CAMPUS_WIDE_QUERY = 2


class QueryTooShort(CaseRuleViolation):
    status = 422


async def pick_students(
    conn: asyncpg.Connection, caller: Caller, text: str, limit: int, *, audit_window: timedelta
) -> list[StudentCard]:
    """Students in the caller's scope matching `text` (number prefix or part of the name);
    the search audited (`roster.pick`), and each student shown once within `audit_window`
    (`student.pick.read`)."""
    principal = caller.principal
    if principal.role not in PICKERS:
        raise NotPermitted(
            "role_cannot_report",
            f"role {principal.role.value} does not report students",
            detail_zh=f"{principal.role.label()}不能上报学生情况",
        )
    campus_wide = principal.campus_wide
    if campus_wide and len(text) < MIN_CAMPUS_WIDE_QUERY:
        raise QueryTooShort(
            "query_too_short",
            "type at least two characters of the number or name",
            field="q",
            detail_zh="请至少输入学号或姓名中的两个字",
            field_message=f"shorter than {MIN_CAMPUS_WIDE_QUERY} characters",
            field_message_zh=f"少于{MIN_CAMPUS_WIDE_QUERY}个字",
        )
    # A student reporter's scope (their room, floor or class) holds themself; a report is
    # about someone else, and their own need reaches intake as a self-referral when they type
    # their own number, not by picking themself from a list of the people around them.
    cards = [
        card
        for card in await find_students(
            conn,
            campus_wide=campus_wide,
            grants=await scope_grants(conn, caller),
            text=text,
            limit=limit + 1,
        )
        if card.student_no != principal.sub
    ][:limit]
    await record_access(
        conn,
        principal_ref=caller.person_ref,
        role=principal.role.value,
        student_ref=None,
        action="roster.pick",
    )
    # A card shown here is what the names behind a queue show, recorded the same way: the
    # search's own row names nobody, so typing prefixes would list a campus untraced.
    await audit_listing(
        conn, caller, [card.student_ref for card in cards], "student.pick.read", window=audit_window
    )
    return cards


async def name_students(
    conn: asyncpg.Connection, caller: Caller, refs: list[str], *, audit_window: timedelta
) -> list[StudentCard]:
    """Names and placements behind these pseudonyms, for students in the caller's scope; each
    student named audited once within `audit_window` (`student.card.read`)."""
    refuse_students(caller)
    cards = await students_by_ref(
        conn,
        campus_wide=caller.principal.campus_wide,
        grants=await scope_grants(conn, caller),
        refs=refs,
    )
    await audit_listing(
        conn, caller, [card.student_ref for card in cards], "student.card.read", window=audit_window
    )
    return cards
