"""The record of every contacts import (`contact_imports`): applied, rehearsed (a dry run) or
refused for bad rows; who (a pseudonym), when, which kind of file, its hash and counts. No
personal data: a refused import's errors are counted, never kept (they quote cells)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import asyncpg

ImportStatus = Literal["applied", "dry_run", "rejected"]


@dataclass(frozen=True, slots=True)
class ImportRecord:
    import_id: str
    kind: str
    status: ImportStatus
    counts: dict[str, int]
    imported_by: str
    at: datetime


async def import_seen(
    conn: asyncpg.Connection, campus_id: str, kind: str, sha256: str
) -> asyncpg.Record | None:
    """The applied import of the same file, if any (a dry run or a refusal is no replay)."""
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT import_id, rows_total, created_at FROM contact_imports"
        " WHERE campus_id = $1 AND kind = $2 AND sha256 = $3 AND status = 'applied'",
        campus_id,
        kind,
        sha256,
    )
    return row


async def record_import(
    conn: asyncpg.Connection,
    import_id: str,
    campus_id: str,
    kind: str,
    sha256: str,
    by: str,
    *,
    status: ImportStatus,
    counts: dict[str, int],
) -> None:
    """Record an import; a second applied import of the same file records nothing."""
    await conn.execute(
        "INSERT INTO contact_imports"
        " (import_id, campus_id, kind, sha256, rows_total, imported_by, status, counts)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)"
        " ON CONFLICT (campus_id, kind, sha256) WHERE status = 'applied' DO NOTHING",
        import_id,
        campus_id,
        kind,
        sha256,
        counts.get("imported", 0),
        by,
        status,
        json.dumps(counts),
    )


async def recent_imports(
    conn: asyncpg.Connection, campus_id: str, kind: str | None, limit: int
) -> list[ImportRecord]:
    """The campus's latest imports, newest first (of one kind of file, or both)."""
    rows = await conn.fetch(
        "SELECT import_id, kind, status, counts, imported_by, created_at FROM contact_imports"
        " WHERE campus_id = $1 AND ($2::text IS NULL OR kind = $2)"
        " ORDER BY created_at DESC, import_id LIMIT $3",
        campus_id,
        kind,
        limit,
    )
    return [
        ImportRecord(
            import_id=str(r["import_id"]),
            kind=r["kind"],
            status=r["status"],
            counts=json.loads(r["counts"]),
            imported_by=r["imported_by"],
            at=r["created_at"],
        )
        for r in rows
    ]
