"""What notify has heard of a campus's rosters from casework's directory (`students_named`:
every student it has named, on the roster or left it; `responsible`: who holds which role for
each student on the roster), to check a contacts file against. By pseudonym only."""

from __future__ import annotations

import asyncpg


async def _heard_of(conn: asyncpg.Connection, campus_id: str) -> bool:
    heard: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM students_named WHERE campus_id = $1)",
        campus_id,
    )
    return heard


async def students_on_roster(
    conn: asyncpg.Connection, campus_id: str, student_refs: set[str]
) -> set[str] | None:
    """Those of `student_refs` the directory has named (on the roster or left it); None when
    notify has heard nothing of the campus's roster yet."""
    if not await _heard_of(conn, campus_id):
        return None
    rows = await conn.fetch(
        "SELECT s.ref FROM unnest($2::text[]) AS s(ref)"
        " WHERE EXISTS (SELECT 1 FROM students_named n"
        "               WHERE n.campus_id = $1 AND n.student_ref = s.ref)",
        campus_id,
        sorted(student_refs),
    )
    return {row["ref"] for row in rows}


async def staff_holding_roles(
    conn: asyncpg.Connection, campus_id: str, person_refs: set[str]
) -> set[str] | None:
    """Those of `person_refs` who hold a role for some student; None when notify has heard
    nothing of the campus's roster yet."""
    if not await _heard_of(conn, campus_id):
        return None
    rows = await conn.fetch(
        "SELECT s.ref FROM unnest($2::text[]) AS s(ref)"
        " WHERE EXISTS (SELECT 1 FROM responsible r"
        "               WHERE r.campus_id = $1 AND r.person_ref = s.ref)",
        campus_id,
        sorted(person_refs),
    )
    return {row["ref"] for row in rows}
