"""The trail of contact reads (migration 0013): one append-only row per answer that showed
contact details, written in the answer's own transaction, read by auditors."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg


@dataclass(frozen=True, slots=True)
class Reader:
    """Who reads: their pseudonymous person_ref and the role their token carries."""

    ref: str
    role: str


@dataclass(frozen=True, slots=True)
class TrailQuery:
    reader_ref: str | None
    student_ref: str | None
    before_id: int | None
    limit: int


async def record(
    conn: asyncpg.Connection,
    campus_id: str,
    reader: Reader,
    action: str,
    *,
    student_ref: str | None = None,
    person_ref: str | None = None,
    contacts: int = 0,
) -> None:
    """Append one row; raises (and so fails the read's transaction) when it cannot."""
    await conn.execute(
        "INSERT INTO contact_reads"
        " (campus_id, reader_ref, role, action, student_ref, person_ref, contacts)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        campus_id,
        reader.ref,
        reader.role,
        action,
        student_ref,
        person_ref,
        contacts,
    )


async def trail(
    conn: asyncpg.Connection, campus_id: str, query: TrailQuery
) -> list[asyncpg.Record]:
    """A page of the campus's trail, newest first."""
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT id, at, reader_ref, role, action, student_ref, person_ref, contacts"
        " FROM contact_reads"
        " WHERE campus_id = $1"
        "   AND ($2::text IS NULL OR reader_ref = $2)"
        "   AND ($3::text IS NULL OR student_ref = $3)"
        "   AND ($4::bigint IS NULL OR id < $4)"
        " ORDER BY id DESC LIMIT $5",
        campus_id,
        query.reader_ref,
        query.student_ref,
        query.before_id,
        query.limit,
    )
    return rows
