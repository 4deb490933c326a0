"""Erasing what notify holds of one student, on their request (PIPL Art. 47).

Up to the erasure's time, and only what has ended: the family contacts (third parties' names
and addresses, kept for one purpose), finished deliveries, bundled items, who could not be
reached, links expired or used, and the student's closed cases. Nothing waiting or in flight
(a delivery pending or sending, an item not yet bundled, a live link, an open case) is
touched. Family contacts kept for an open case wait in `pending_erasures` until the last
open case closes. The directory's routing of the student stays: it names staff, not the student, and a
later crisis needs it. (Row-level security: the worker's transaction serves every campus.)
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

#: Table → which of the student's rows (`campus_id = $1 AND student_ref = $2`) have ended at
#: `$3`, the erasure's time.
_ENDED: dict[str, str] = {
    "deliveries": "created_at <= $3 AND status IN ('sent', 'failed', 'cancelled', 'call_task')",
    "bundle_items": "source_time <= $3 AND bundled_at IS NOT NULL",
    "unreached": "created_at <= $3",
    "ack_links": "created_at <= $3 AND (used_at IS NOT NULL OR expires_at < now())",
    "cases": "closed_at IS NOT NULL AND closed_at <= $3",
}


async def erase_family_contacts(
    conn: asyncpg.Connection, campus_id: str, student_ref: str, erased_at: datetime
) -> int | None:
    """Delete the student's family contacts imported before `erased_at`; how many. None, and
    nothing deleted, while a case of the student is open here: a crisis that began after the
    request still has a family to call (care first; the admin can still delete them)."""
    if await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM cases WHERE campus_id = $1 AND student_ref = $2"
        " AND closed_at IS NULL)",
        campus_id,
        student_ref,
    ):
        return None
    status = await conn.execute(
        "DELETE FROM family_contacts WHERE campus_id = $1 AND student_ref = $2"
        " AND updated_at <= $3",
        campus_id,
        student_ref,
        erased_at,
    )
    return _count(status)


async def erase_delivery_records(
    conn: asyncpg.Connection, campus_id: str, student_ref: str, erased_at: datetime
) -> dict[str, int]:
    """Delete the student's delivery records that had ended by `erased_at`; how many each."""
    gone: dict[str, int] = {}
    for table, ended in _ENDED.items():
        status = await conn.execute(
            f"DELETE FROM {table} WHERE campus_id = $1 AND student_ref = $2 AND {ended}",  # noqa: S608 - constant identifiers
            campus_id,
            student_ref,
            erased_at,
        )
        gone[table] = _count(status)
    return gone


async def defer_erasure(
    conn: asyncpg.Connection, campus_id: str, student_ref: str, event_id: str, erased_at: datetime
) -> None:
    """Remember an erasure that kept the family contacts for an open case, until the
    student's last open case closes. A later erasure of the same student moves its time on."""
    await conn.execute(
        """
        INSERT INTO pending_erasures (campus_id, student_ref, event_id, erased_at)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (campus_id, student_ref) DO UPDATE SET
            event_id = CASE WHEN EXCLUDED.erased_at > pending_erasures.erased_at
                            THEN EXCLUDED.event_id ELSE pending_erasures.event_id END,
            erased_at = GREATEST(pending_erasures.erased_at, EXCLUDED.erased_at)
        """,
        campus_id,
        student_ref,
        event_id,
        erased_at,
    )


async def take_due_erasure(
    conn: asyncpg.Connection, campus_id: str, student_ref: str
) -> tuple[str, datetime] | None:
    """The student's deferred erasure (its event id and time), taken off the list, once no
    case of the student is open here; None while one is, or when none waits. Taking it is
    what makes it run once: a second closure finds nothing."""
    row = await conn.fetchrow(
        """
        DELETE FROM pending_erasures p WHERE p.campus_id = $1 AND p.student_ref = $2
          AND NOT EXISTS (SELECT 1 FROM cases c WHERE c.campus_id = p.campus_id
                          AND c.student_ref = p.student_ref AND c.closed_at IS NULL)
        RETURNING event_id, erased_at
        """,
        campus_id,
        student_ref,
    )
    return (row["event_id"], row["erased_at"]) if row else None


def _count(status: str) -> int:
    return int(status.split()[-1])
