"""Finding students by number or name within a caller's scope (the report form's picker and
the names on a counselor's queue). Runs inside `campus_transaction`; scope is matched in SQL
exactly as `auth.Placement.matches` does."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from shouwang_contracts.auth import ScopeGrant

_IN_SCOPE = """
    ($1 OR EXISTS (
        SELECT 1 FROM unnest($2::text[], $3::text[]) AS g(kind, value)
        WHERE g.kind = 'campus'
           OR (g.kind = 'college' AND g.value = s.college)
           OR (g.kind = 'class' AND g.value = s.class_name)
           OR (g.kind = 'building' AND g.value = s.building)
           OR (g.kind = 'floor' AND g.value = s.building || '/' || s.floor)
           OR (g.kind = 'room' AND g.value = s.building || '/' || s.room)))
"""


@dataclass(frozen=True, slots=True)
class StudentCard:
    """What a picker or a queue row shows of a student: enough to recognise them."""

    student_ref: str
    student_no: str
    name: str
    college: str | None
    class_name: str | None
    building: str | None
    room: str | None


def _card(row: asyncpg.Record) -> StudentCard:
    return StudentCard(
        student_ref=row["student_ref"],
        student_no=row["student_no"],
        name=row["name"],
        college=row["college"],
        class_name=row["class_name"],
        building=row["building"],
        room=row["room"],
    )


async def find_students(
    conn: asyncpg.Connection,
    *,
    campus_wide: bool,
    grants: list[ScopeGrant],
    text: str,
    limit: int,
) -> list[StudentCard]:
    """Active students in scope whose number starts with `text` or whose name contains it."""
    pattern = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = await conn.fetch(
        f"""
        SELECT s.student_ref, s.student_no, s.name, s.college, s.class_name, s.building, s.room
        FROM students s
        WHERE s.active AND {_IN_SCOPE}
          AND ($4 = '' OR s.student_no LIKE $4 || '%' OR s.name LIKE '%' || $4 || '%')
        ORDER BY s.building NULLS LAST, s.room NULLS LAST, s.student_no
        LIMIT $5
        """,  # noqa: S608 - the interpolated SQL is a constant
        campus_wide,
        [g.kind.value for g in grants],
        [g.value for g in grants],
        pattern,
        limit,
    )
    return [_card(r) for r in rows]


async def students_by_ref(
    conn: asyncpg.Connection, *, campus_wide: bool, grants: list[ScopeGrant], refs: list[str]
) -> list[StudentCard]:
    """Those of `refs` in scope (also students who have left: their cases stay)."""
    rows = await conn.fetch(
        f"""
        SELECT s.student_ref, s.student_no, s.name, s.college, s.class_name, s.building, s.room
        FROM students s
        WHERE s.student_ref = ANY($4) AND {_IN_SCOPE}
        """,  # noqa: S608 - the interpolated SQL is a constant
        campus_wide,
        [g.kind.value for g in grants],
        [g.value for g in grants],
        refs,
    )
    return [_card(r) for r in rows]
