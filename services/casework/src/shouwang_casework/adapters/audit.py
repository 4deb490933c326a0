"""The append-only audit log of student-file reads, and break-the-glass grants.

Every function runs on a connection inside `campus_transaction`, so row-level security keeps
each campus's log to itself. `audit_log` refuses UPDATE, DELETE and TRUNCATE (privileges and a
trigger, migrations/0001_roster_audit.sql); nothing here tries.

Two kinds of entry. A single read (`record_access`: a case, a file, its history, its notes, a
refusal, a break-the-glass) is one row per read. A listing read (`record_listing`: a page of
the queue, the awaiting list, the name cards, which a live tab refreshes every 15 s) writes, in
one statement, a row only for the students this reader (in this role) has not been shown
through this page within the window; that row's `covers_seconds` says how long it stands for
the showings after it (`covers_until` in `list_audit`). See `service_layer/access.py`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from shouwang_contracts.crypto import EncryptedText, NoteCipher, NoteKeyError


async def record_access(
    conn: asyncpg.Connection,
    *,
    principal_ref: str,
    role: str,
    student_ref: str | None,
    action: str,
    reason: str | None = None,
    break_glass: bool = False,
) -> int:
    """Append one access to the audit log in the caller's transaction; returns its id.

    `action` says what was done (`file.read`, `break_glass.open`, ...). Call it in the same
    transaction as the read, so a read that fails leaves no entry and an entry never lacks
    its read. `break_glass=True` flags access outside the caller's scope.
    """
    campus_id = await conn.fetchval("SELECT current_setting('shouwang.campus_id', true)")
    audit_id: int = await conn.fetchval(
        """
        INSERT INTO audit_log (campus_id, principal_ref, role, student_ref, action, reason,
                               break_glass)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        RETURNING id
        """,
        campus_id,
        principal_ref,
        str(role),
        student_ref,
        action,
        reason,
        break_glass,
    )
    return audit_id


async def record_listing(
    conn: asyncpg.Connection,
    *,
    principal_ref: str,
    role: str,
    student_refs: list[str],
    action: str,
    window: timedelta,
) -> int:
    """Record that one page showed these students to this reader, coalesced; rows written.

    One INSERT for the whole page, whatever its size: a row for each student with no listing
    row of this reader, role and `action` still covering now (written less than its own
    `covers_seconds` ago, and less than `window` ago, so shortening the window takes effect at
    once). Each new row covers `window` from its own time. A zero `window` writes a row per
    student shown, each covering nothing (`covers_seconds` NULL): every showing recorded, as
    a single read is. Never for break-the-glass reads: they go through `record_access`.
    """
    if not student_refs:
        return 0
    seconds = max(0, int(window.total_seconds()))
    status = await conn.execute(
        """
        INSERT INTO audit_log (campus_id, principal_ref, role, student_ref, action,
                               covers_seconds)
        SELECT current_setting('shouwang.campus_id', true), $1, $2, shown.student_ref, $3,
               NULLIF($5::integer, 0)
        FROM (SELECT DISTINCT unnest($4::text[]) AS student_ref) AS shown
        WHERE NOT EXISTS (
            SELECT 1 FROM audit_log a
            WHERE a.campus_id = current_setting('shouwang.campus_id', true)
              AND a.principal_ref = $1
              AND a.student_ref = shown.student_ref
              AND a.action = $3
              AND a.covers_seconds IS NOT NULL
              AND a.at > now() - make_interval(secs => $5::integer)
              AND a.at + make_interval(secs => a.covers_seconds) > now()
              AND a.role = $2
        )
        """,
        principal_ref,
        str(role),
        action,
        student_refs,
        seconds,
    )
    return int(status.rsplit(" ", 1)[-1])  # "INSERT 0 <rows>"


async def active_break_glass(conn: asyncpg.Connection, person_ref: str, student_ref: str) -> bool:
    """True while `person_ref` holds an unexpired break-the-glass grant on `student_ref`."""
    return bool(
        await conn.fetchval(
            """
            SELECT EXISTS (
                SELECT 1 FROM break_glass_grants
                WHERE person_ref = $1 AND student_ref = $2 AND expires_at > now()
            )
            """,
            person_ref,
            student_ref,
        )
    )


@dataclass(frozen=True, slots=True)
class BreakGlassGrant:
    """A time-limited opening of one student's file by someone outside its scope."""

    id: str
    person_ref: str
    role: str
    student_ref: str
    reason: str
    granted_at: datetime
    expires_at: datetime
    reviewed_by: str | None
    reviewed_at: datetime | None
    review_outcome: str | None
    review_note: str | None


def _opened(cipher: NoteCipher, row: asyncpg.Record, column: str) -> str | None:
    sealed = row[column]
    if sealed is None:
        return None
    try:
        return cipher.open(
            EncryptedText.model_validate_json(sealed),
            campus_id=row["campus_id"],
            student_ref=row["student_ref"],
        )
    except (NoteKeyError, ValueError):
        return None  # a retired key: the grant stays listed, its text unreadable


def _grant(row: asyncpg.Record, cipher: NoteCipher) -> BreakGlassGrant:
    return BreakGlassGrant(
        id=str(row["id"]),
        person_ref=row["person_ref"],
        role=row["role"],
        student_ref=row["student_ref"],
        reason=_opened(cipher, row, "sealed_reason") or row["reason"] or "",
        granted_at=row["granted_at"],
        expires_at=row["expires_at"],
        reviewed_by=row["reviewed_by"],
        reviewed_at=row["reviewed_at"],
        review_outcome=row["review_outcome"],
        review_note=_opened(cipher, row, "sealed_review_note") or row["review_note"],
    )


async def grants_since(conn: asyncpg.Connection, person_ref: str, since: timedelta) -> int:
    """How many break-the-glass grants `person_ref` was given in the last `since`."""
    return int(
        await conn.fetchval(
            """
            SELECT count(*) FROM break_glass_grants
            WHERE person_ref = $1 AND granted_at > now() - $2::interval
            """,
            person_ref,
            since,
        )
    )


async def grant_break_glass(
    conn: asyncpg.Connection,
    cipher: NoteCipher,
    *,
    person_ref: str,
    role: str,
    student_ref: str,
    reason: str,
    duration: timedelta,
) -> BreakGlassGrant:
    """Open `student_ref`'s file to `person_ref` for `duration`, and flag it in the audit log.

    The reason is sealed like every free text; the audit entry points at the grant and does
    not repeat it.
    """
    campus_id = await conn.fetchval("SELECT current_setting('shouwang.campus_id', true)")
    sealed = cipher.seal(reason, campus_id=campus_id, student_ref=student_ref)
    row = await conn.fetchrow(
        """
        INSERT INTO break_glass_grants (id, campus_id, person_ref, role, student_ref,
                                        sealed_reason, granted_at, expires_at)
        VALUES ($1, $2, $3, $4, $5, $6::jsonb, now(), now() + $7::interval)
        RETURNING *
        """,
        uuid.uuid4(),
        campus_id,
        person_ref,
        str(role),
        student_ref,
        sealed.model_dump_json(),
        duration,
    )
    if row is None:  # INSERT ... RETURNING always returns the row
        raise RuntimeError("break_glass_grants insert returned no row")
    await record_access(
        conn,
        principal_ref=person_ref,
        role=role,
        student_ref=student_ref,
        action="break_glass.open",
        reason=f"grant:{row['id']}",
        break_glass=True,
    )
    return _grant(row, cipher)


async def review_break_glass(
    conn: asyncpg.Connection,
    cipher: NoteCipher,
    grant_id: str,
    *,
    reviewer_ref: str,
    reviewer_role: str,
    outcome: str,
    note: str | None,
) -> BreakGlassGrant | None:
    """Record a tier-6 review of a grant (once); None when there is no such grant.

    A grant already reviewed keeps its first review; the caller sees it unchanged.
    """
    try:
        key = uuid.UUID(grant_id)
    except ValueError:
        return None
    existing = await conn.fetchrow("SELECT * FROM break_glass_grants WHERE id = $1", key)
    if existing is None:
        return None
    if existing["reviewed_at"] is not None:
        return _grant(existing, cipher)
    sealed = (
        cipher.seal(note, campus_id=existing["campus_id"], student_ref=existing["student_ref"])
        if note
        else None
    )
    row = await conn.fetchrow(
        """
        UPDATE break_glass_grants
        SET reviewed_by = $2, reviewed_at = now(), review_outcome = $3,
            sealed_review_note = $4::jsonb
        WHERE id = $1 AND reviewed_at IS NULL
        RETURNING *
        """,
        key,
        reviewer_ref,
        outcome,
        sealed.model_dump_json() if sealed else None,
    )
    if row is None:  # reviewed meanwhile: the first review stays
        row = await conn.fetchrow("SELECT * FROM break_glass_grants WHERE id = $1", key)
        return _grant(row, cipher) if row else None
    await record_access(
        conn,
        principal_ref=reviewer_ref,
        role=reviewer_role,
        student_ref=row["student_ref"],
        action="break_glass.review",
        reason=f"grant:{row['id']} {outcome}",
    )
    return _grant(row, cipher)


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Filters of an auditor's look at the log; `before_id` pages backwards from newest."""

    student_ref: str | None = None
    principal_ref: str | None = None
    break_glass_only: bool = False
    since: datetime | None = None
    until: datetime | None = None
    before_id: int | None = None
    limit: int = 100


async def list_audit(conn: asyncpg.Connection, query: AuditQuery) -> list[dict[str, Any]]:
    """Audit entries matching `query`, newest first (keyset pagination on id).

    `covers_until` is set on a listing row: the row stands for every showing of its student
    to its reader through its page from `at` up to then (see `record_listing`). So `since`
    also finds a listing row written before it whose span reaches past it: who may have
    been shown a student in a period is answered by the rows that cover the period."""
    rows = await conn.fetch(
        """
        SELECT a.id, a.at, a.principal_ref, a.role, a.student_ref, a.action, a.reason,
               a.break_glass, a.at + make_interval(secs => a.covers_seconds) AS covers_until
        FROM audit_log a
        WHERE ($1::text IS NULL OR a.student_ref = $1)
          AND ($2::text IS NULL OR a.principal_ref = $2)
          AND (NOT $3 OR a.break_glass)
          AND ($4::timestamptz IS NULL OR a.at >= $4
               OR a.at + make_interval(secs => a.covers_seconds) > $4)
          AND ($5::timestamptz IS NULL OR a.at < $5)
          AND ($6::bigint IS NULL OR a.id < $6)
        ORDER BY a.id DESC
        LIMIT $7
        """,
        query.student_ref,
        query.principal_ref,
        query.break_glass_only,
        query.since,
        query.until,
        query.before_id,
        query.limit,
    )
    return [dict(row) for row in rows]


async def list_break_glass(
    conn: asyncpg.Connection,
    cipher: NoteCipher,
    *,
    unreviewed_only: bool = False,
    limit: int = 100,
) -> list[BreakGlassGrant]:
    """Break-the-glass grants, newest first; the review queue when `unreviewed_only`."""
    rows = await conn.fetch(
        """
        SELECT * FROM break_glass_grants
        WHERE (NOT $1 OR reviewed_at IS NULL)
        ORDER BY granted_at DESC
        LIMIT $2
        """,
        unreviewed_only,
        limit,
    )
    return [_grant(row, cipher) for row in rows]
