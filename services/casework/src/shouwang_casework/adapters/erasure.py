"""The roster rows of students who left, and the records of roster imports: deleted once they
serve nothing (PIPL Art. 19, 47).

A leaver's row holds their name, 学号 and placement in the clear. It stays while the student
may come back (a roster mistake, 休学) and while a file of theirs still has its text (a
counsellor reading a closed file sees whose it is); it goes when both have passed: gone longer
than the period, no case open, and every case's text already erased (by retention or on
request). The cases' structured facts stay, under the pseudonym. A student back on a later
roster is written again by the import, as anyone new.

A roster import's record (file name and hash, counts, who imported, when) and its row errors
(which quote the 学号 or the cell a row was refused for) answer the admin who corrects the
file and imports it again; the errors are blanked first, the record deleted later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import asyncpg


async def delete_leavers(conn: asyncpg.Connection, gone_for: timedelta, limit: int) -> list[str]:
    """Delete up to `limit` roster rows of the transaction's campus whose students left more
    than `gone_for` ago and whose files are done with (see the module); the longest gone
    first. Each is audited (`roster.leaver_deleted`, by `retention`); returns their refs."""
    rows = await conn.fetch(
        """
        WITH due AS MATERIALIZED (
            SELECT l.student_ref FROM students l
            WHERE NOT l.active AND l.updated_at < now() - $1::interval
              AND NOT EXISTS (
                  SELECT 1 FROM cases c WHERE c.student_ref = l.student_ref
                  AND (c.state <> 'closed' OR NOT EXISTS (
                      SELECT 1 FROM retention_erasures e
                      WHERE e.student_ref = c.student_ref AND e.through >= c.closed_at)))
            ORDER BY l.updated_at LIMIT $2 FOR UPDATE SKIP LOCKED)
        DELETE FROM students s USING due WHERE s.student_ref = due.student_ref
        RETURNING s.campus_id, s.student_ref
        """,
        gone_for,
        limit,
    )
    await conn.executemany(
        "INSERT INTO audit_log (campus_id, principal_ref, role, student_ref, action, reason)"
        " VALUES ($1, 'retention', 'system', $2, 'roster.leaver_deleted', $3)",
        [(r["campus_id"], r["student_ref"], f"retention:{gone_for.days}d") for r in rows],
    )
    return [r["student_ref"] for r in rows]


@dataclass(frozen=True, slots=True)
class ImportsEnded:
    """How many roster import records lost their row errors, and how many were deleted."""

    errors_blanked: int
    deleted: int


async def end_roster_imports(
    conn: asyncpg.Connection, errors_for: timedelta, kept_for: timedelta, limit: int
) -> ImportsEnded:
    """In the transaction's campus: blank the row errors of up to `limit` imports made more
    than `errors_for` ago, and delete up to `limit` import records made more than `kept_for`
    ago; the oldest first (each batch picked once, in a materialised CTE)."""
    blanked = await conn.execute(
        """
        WITH due AS MATERIALIZED (
            SELECT id FROM roster_imports
            WHERE at < now() - $1::interval AND errors <> '[]'::jsonb
            ORDER BY at LIMIT $2 FOR UPDATE SKIP LOCKED)
        UPDATE roster_imports r SET errors = '[]'::jsonb FROM due WHERE r.id = due.id
        """,
        errors_for,
        limit,
    )
    deleted = await conn.execute(
        """
        WITH due AS MATERIALIZED (
            SELECT id FROM roster_imports WHERE at < now() - $1::interval
            ORDER BY at LIMIT $2 FOR UPDATE SKIP LOCKED)
        DELETE FROM roster_imports r USING due WHERE r.id = due.id
        """,
        kept_for,
        limit,
    )
    return ImportsEnded(int(blanked.split()[-1]), int(deleted.split()[-1]))
