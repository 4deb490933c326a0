"""The roster in PostgreSQL: placements, scopes, responsible staff, and what imports write.

Every function runs on a connection inside `campus_transaction` (adapters/db.py): row-level
security limits it to one campus, so no query here filters by campus itself.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

import asyncpg
from shouwang_contracts.auth import Placement, ScopeGrant, ScopeKind
from shouwang_servicekit import rows as kit_rows
from shouwang_servicekit.spreadsheets import SheetLimits

from ..domain.roster import (
    SCOPE_NARROWEST_FIRST,
    Assignment,
    KnownStudent,
    Student,
    StudentPlacement,
)

_NARROWEST_FIRST_SQL = (
    "CASE a.scope_kind "
    + " ".join(f"WHEN '{kind}' THEN {rank}" for rank, kind in enumerate(SCOPE_NARROWEST_FIRST))
    + " END"
)


def covers_sql(assignment: str = "a", student: str = "s") -> str:
    """An SQL condition: the assignment row `assignment` covers the student row `student`,
    exactly when auth.Placement.matches says so (the aliases are code, never input)."""
    a, s = assignment, student
    return f"""
    ({a}.scope_kind = 'campus'
     OR ({a}.scope_kind = 'college' AND {a}.scope_value = {s}.college)
     OR ({a}.scope_kind = 'class' AND {a}.scope_value = {s}.class_name)
     OR ({a}.scope_kind = 'building' AND {a}.scope_value = {s}.building)
     OR ({a}.scope_kind = 'floor' AND {a}.scope_value = {s}.building || '/' || {s}.floor)
     OR ({a}.scope_kind = 'room' AND {a}.scope_value = {s}.building || '/' || {s}.room))
"""


_COVERS_SQL = covers_sql()


async def placement_of(conn: asyncpg.Connection, student_ref: str) -> Placement | None:
    """Where the student is placed (also after they left); None for an unknown student."""
    row = await conn.fetchrow(
        "SELECT college, class_name, building, floor, room FROM students WHERE student_ref = $1",
        student_ref,
    )
    if row is None:
        return None
    return Placement(
        college=row["college"],
        class_name=row["class_name"],
        building=row["building"],
        floor=row["floor"],
        room=row["room"],
    )


async def scope_of(
    conn: asyncpg.Connection, person_ref: str, role: str | None = None
) -> list[ScopeGrant]:
    """Every scope the person holds an assignment for, widest first; only `role`'s if given.

    Pass the caller's role when checking access: a person's scope as dorm leader says
    nothing about what they may read in another role.
    """
    rows = await conn.fetch(
        f"""
        SELECT DISTINCT a.scope_kind, a.scope_value, {_NARROWEST_FIRST_SQL} AS narrowness
        FROM staff_assignments a
        WHERE a.person_ref = $1 AND ($2::text IS NULL OR a.role = $2)
        ORDER BY narrowness DESC, a.scope_value
        """,  # noqa: S608 - the interpolated CASE is built from constants
        person_ref,
        str(role) if role is not None else None,
    )
    return [ScopeGrant(kind=ScopeKind(r["scope_kind"]), value=r["scope_value"]) for r in rows]


def responsible_sql(student_ref: str, role: str) -> str:
    """An SQL expression: the person_refs holding the role whose assignment covers the
    student, narrowest scope first, as an array (`student_ref` and `role` are the statement's
    parameters, e.g. "$1"), so a statement can ask it beside other questions."""
    return f"""ARRAY(
        SELECT a.person_ref
        FROM students s
        JOIN staff_assignments a ON a.role = {role} AND {_COVERS_SQL}
        WHERE s.student_ref = {student_ref}
        GROUP BY a.person_ref
        ORDER BY min({_NARROWEST_FIRST_SQL}), a.person_ref)"""  # noqa: S608 - from constants


_RESPONSIBLE = f"SELECT {responsible_sql('$1', '$2')}"


async def responsible_for(conn: asyncpg.Connection, student_ref: str, role: str) -> list[str]:
    """person_refs holding `role` whose assignment covers the student; narrowest scope first."""
    return list(await conn.fetchval(_RESPONSIBLE, student_ref, str(role)))


# --- what imports read and write ---------------------------------------------------------------

_STUDENT_COLUMNS = (
    "student_no",
    "name",
    "gender",
    "college",
    "major",
    "class_name",
    "campus_name",
    "building",
    "floor",
    "room",
)


async def known_students(conn: asyncpg.Connection) -> dict[str, KnownStudent]:
    """Every student on file, by 学号."""
    rows = await conn.fetch(f"SELECT {', '.join(_STUDENT_COLUMNS)}, active FROM students")  # noqa: S608
    return {
        r["student_no"]: KnownStudent(Student(*(r[c] for c in _STUDENT_COLUMNS)), r["active"])
        for r in rows
    }


async def save_students(
    conn: asyncpg.Connection, campus_id: str, students: Iterable[tuple[str, Student]]
) -> None:
    """Insert or update (student_ref, student) pairs as active students."""
    await conn.executemany(
        f"""
        INSERT INTO students (campus_id, student_ref, {", ".join(_STUDENT_COLUMNS)}, active,
                              updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, true, now())
        ON CONFLICT (campus_id, student_ref) DO UPDATE SET
            {", ".join(f"{c} = excluded.{c}" for c in _STUDENT_COLUMNS)},
            active = true, updated_at = now()
        """,  # noqa: S608 - column names are constants
        [
            (campus_id, ref, *(getattr(student, c) for c in _STUDENT_COLUMNS))
            for ref, student in students
        ],
    )


async def deactivate_students(conn: asyncpg.Connection, student_nos: list[str]) -> None:
    """Mark students who left as inactive; their file stays."""
    await conn.execute(
        "UPDATE students SET active = false, updated_at = now() WHERE student_no = ANY($1::text[])",
        student_nos,
    )


async def active_placements(conn: asyncpg.Connection) -> dict[str, StudentPlacement]:
    """The placement of every active student, by student_ref."""
    rows = await conn.fetch(
        "SELECT student_ref, college, class_name, building, floor, room FROM students WHERE active"
    )
    return {
        r["student_ref"]: StudentPlacement(
            r["college"], r["class_name"], r["building"], r["floor"], r["room"]
        )
        for r in rows
    }


async def known_assignments(conn: asyncpg.Connection) -> set[Assignment]:
    """Every assignment on file, held by person_ref."""
    rows = await conn.fetch(
        "SELECT person_ref, role, scope_kind, scope_value FROM staff_assignments"
    )
    return {Assignment(r[0], r[1], r[2], r[3]) for r in rows}


async def known_people(conn: asyncpg.Connection) -> set[str]:
    """The person_ref of everyone on the staff roster."""
    return {r[0] for r in await conn.fetch("SELECT person_ref FROM staff")}


async def save_staff(
    conn: asyncpg.Connection,
    campus_id: str,
    people: dict[str, tuple[str, str]],
    added: Iterable[Assignment],
    removed: Iterable[Assignment],
    *,
    snapshot: bool,
) -> None:
    """Write people (person_ref → (number, name)) and the assignment changes.

    In a snapshot, people no longer holding any assignment are removed from `staff`.
    """
    await conn.executemany(
        """
        INSERT INTO staff (campus_id, person_ref, staff_no, name, updated_at)
        VALUES ($1, $2, $3, $4, now())
        ON CONFLICT (campus_id, person_ref) DO UPDATE
            SET staff_no = excluded.staff_no, name = excluded.name, updated_at = now()
            WHERE (staff.staff_no, staff.name) IS DISTINCT FROM (excluded.staff_no, excluded.name)
        """,
        [(campus_id, ref, no, name) for ref, (no, name) in people.items()],
    )
    await conn.executemany(
        """
        DELETE FROM staff_assignments
        WHERE person_ref = $1 AND role = $2 AND scope_kind = $3 AND scope_value = $4
        """,
        [(a.holder, a.role, a.scope_kind, a.scope_value) for a in removed],
    )
    await conn.executemany(
        """
        INSERT INTO staff_assignments (campus_id, person_ref, role, scope_kind, scope_value)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT DO NOTHING
        """,
        [(campus_id, a.holder, a.role, a.scope_kind, a.scope_value) for a in added],
    )
    if snapshot:
        await conn.execute(
            "DELETE FROM staff WHERE person_ref <> ALL($1::text[])", list(people.keys())
        )


async def open_cases_owned_by(
    conn: asyncpg.Connection, people: Iterable[str]
) -> list[tuple[str, str]]:
    """(case_id, student_ref) of every case not closed that one of `people` owns, by case id
    (read without locks: the caller locks the students, then re-reads each case)."""
    rows = await conn.fetch(
        "SELECT case_id, student_ref FROM cases"
        " WHERE owner_ref = ANY($1::text[]) AND state <> 'closed' ORDER BY case_id",
        sorted(set(people)),
    )
    return [(str(r["case_id"]), r["student_ref"]) for r in rows]


async def open_cases_with_follow_ups_of(
    conn: asyncpg.Connection, people: Iterable[str]
) -> list[tuple[str, str]]:
    """(case_id, student_ref) of every case not closed with a scheduled follow-up one of
    `people` is to make, by case id (read without locks, as `open_cases_owned_by`)."""
    rows = await conn.fetch(
        "SELECT DISTINCT c.case_id, c.student_ref FROM cases c"
        " JOIN follow_ups f ON f.case_id = c.case_id"
        " WHERE f.assignee_ref = ANY($1::text[]) AND f.status = 'scheduled'"
        " AND c.state <> 'closed' ORDER BY c.case_id",
        sorted(set(people)),
    )
    return [(str(r["case_id"]), r["student_ref"]) for r in rows]


async def covers_student(conn: asyncpg.Connection, person_ref: str, student_ref: str) -> bool:
    """Whether one of the person's assignments, in any role, covers the student."""
    covered: bool = await conn.fetchval(
        f"""
        SELECT EXISTS (
            SELECT 1 FROM students s
            JOIN staff_assignments a ON a.person_ref = $1 AND {_COVERS_SQL}
            WHERE s.student_ref = $2)
        """,  # noqa: S608 - the interpolated condition is a constant
        person_ref,
        student_ref,
    )
    return covered


ImportKind = Literal["students", "staff"]
ImportMode = Literal["snapshot", "upsert"]
ImportStatus = Literal["applied", "dry_run", "rejected"]


@dataclass(frozen=True, slots=True)
class RosterImport:
    """The record of one import: what it was, what it did, and the rows it refused."""

    id: str
    kind: ImportKind
    mode: ImportMode
    file_name: str
    status: ImportStatus
    counts: dict[str, int]
    errors: list[dict[str, Any]]
    actor_ref: str
    at: datetime


async def record_import(
    conn: asyncpg.Connection,
    *,
    campus_id: str,
    kind: ImportKind,
    mode: ImportMode,
    file_name: str,
    file_sha256: str,
    status: ImportStatus,
    counts: dict[str, int],
    errors: list[dict[str, Any]],
    actor_ref: str,
) -> RosterImport:
    """Write the import's record (also for rejected and dry-run imports)."""
    row = await conn.fetchrow(
        """
        INSERT INTO roster_imports (id, campus_id, kind, mode, file_name, file_sha256, status,
                                    counts, errors, actor_ref, at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb, $10, now())
        RETURNING *
        """,
        uuid.uuid4(),
        campus_id,
        kind,
        mode,
        file_name,
        file_sha256,
        status,
        json.dumps(counts),
        json.dumps(errors, ensure_ascii=False),
        actor_ref,
    )
    if row is None:  # INSERT ... RETURNING always returns the row
        raise RuntimeError("roster_imports insert returned no row")
    return _import(row)


async def get_import(conn: asyncpg.Connection, import_id: str) -> RosterImport | None:
    """One import's record, or None."""
    try:
        key = uuid.UUID(import_id)
    except ValueError:
        return None
    row = await conn.fetchrow("SELECT * FROM roster_imports WHERE id = $1", key)
    return _import(row) if row else None


async def recent_imports(conn: asyncpg.Connection, limit: int) -> list[RosterImport]:
    """The latest imports, newest first."""
    rows = await conn.fetch("SELECT * FROM roster_imports ORDER BY at DESC LIMIT $1", limit)
    return [_import(row) for row in rows]


def _import(row: asyncpg.Record) -> RosterImport:
    return RosterImport(
        id=str(row["id"]),
        kind=row["kind"],
        mode=row["mode"],
        file_name=row["file_name"],
        status=row["status"],
        counts=json.loads(row["counts"]),
        errors=json.loads(row["errors"]),
        actor_ref=row["actor_ref"],
        at=row["at"],
    )


# --- reading uploads --------------------------------------------------------------------------


async def read_table(data: bytes, max_rows: int) -> list[list[object]]:
    """An upload (XLSX, or CSV in UTF-8, UTF-16 or GB18030, comma, tab, semicolon or full-width
    comma) as a table, header first, empty rows kept so row numbers stay true.

    Read by the kit's worker process within its budgets (`shouwang_servicekit.spreadsheets`):
    a sheet claiming a million rows, a cell far to the right or an archive that unpacks to
    gigabytes is refused, never padded or unpacked here. Whole numbers (学号 typed as
    numbers) come back without a `.0`. Raises the reader's `SheetRefused`.
    """
    table = await kit_rows.read_table(
        data, limits=SheetLimits(max_rows=max_rows, sniff_delimiter=True)
    )
    return [[_cell_text(value) for value in cells] for cells in table]


def _cell_text(value: object) -> object:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
