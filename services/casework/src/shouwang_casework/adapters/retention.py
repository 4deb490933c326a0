"""Retention of a student file's free text: which files are due, and erasing one.

The erasing is done by `erase_closed_file_text` (migrations/0009), a function owned by the
owner role that runs with its rights: the runtime role may not UPDATE the case history, and
does not gain that right. The function checks again that the file is due (no open case, the
last closure older than the period, never shorter than its floor of 180 days), so a caller
can ask for any student: a file that is not due is left as it is.
"""

from __future__ import annotations

from datetime import timedelta

import asyncpg


async def due_files(conn: asyncpg.Connection, retention: timedelta, limit: int) -> list[str]:
    """Students of the transaction's campus whose file text is due to end, oldest closure
    first: every case closed, the last closure older than `retention`, and not yet erased
    through that closure (a case reopened and closed again makes the file due again later)."""
    rows = await conn.fetch(
        """
        SELECT c.student_ref
        FROM cases c
        GROUP BY c.student_ref
        HAVING bool_and(c.state = 'closed')
           AND max(c.closed_at) < now() - $1::interval
           AND NOT EXISTS (
               SELECT 1 FROM retention_erasures e
               WHERE e.student_ref = c.student_ref AND e.through >= max(c.closed_at))
        ORDER BY max(c.closed_at)
        LIMIT $2
        """,
        retention,
        limit,
    )
    return [r["student_ref"] for r in rows]


async def erase_file_text(conn: asyncpg.Connection, student_ref: str, retention: timedelta) -> int:
    """Erase one student's file text if it is due; how many cases it covered (0: not due)."""
    return int(
        await conn.fetchval(
            "SELECT erase_closed_file_text($1, $2::interval)", student_ref, retention
        )
    )


async def erase_file_text_on_request(
    conn: asyncpg.Connection, student_ref: str, *, principal_ref: str, role: str, request_ref: str
) -> int:
    """Erase one student's file text now (PIPL Art. 47), audited as the caller; how many cases
    it covered. The function refuses (`asyncpg.ObjectInUseError`) while a case is open."""
    return int(
        await conn.fetchval(
            "SELECT erase_file_text_on_request($1, $2, $3, $4)",
            student_ref,
            principal_ref,
            role,
            request_ref,
        )
    )


async def student_known(conn: asyncpg.Connection, student_ref: str) -> bool:
    """True when the roster or a case knows the student (in the transaction's campus)."""
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM students WHERE student_ref = $1)"
            " OR EXISTS (SELECT 1 FROM cases WHERE student_ref = $1)",
            student_ref,
        )
    )


async def has_open_case(conn: asyncpg.Connection, student_ref: str) -> bool:
    """True while any case of the student is not closed."""
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM cases WHERE student_ref = $1 AND state <> 'closed')",
            student_ref,
        )
    )
