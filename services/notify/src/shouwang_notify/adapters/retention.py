"""Retention of what only served a delivery: the rows the chore deletes once they are old.

Each statement deletes at most `batch` rows, the oldest first, so one turn holds locks on a
few rows only and never stalls the dispatcher; the chore runs again at once while a table
still had a full batch to give. Nothing waiting or in flight is touched: a delivery still
pending or sending, a bundle item not yet bundled, a link not yet expired, a case not
closed. (Row-level security: the caller's transaction says which campuses it serves.)
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

#: Table → the rows of it past `$1` (the cutoff), oldest first; `id`-like key to delete by.
_PURGES: dict[str, tuple[str, str]] = {
    "deliveries": (
        "id",
        "SELECT id FROM deliveries WHERE finished_at < $1"
        " AND status IN ('sent', 'failed', 'cancelled', 'call_task') ORDER BY finished_at",
    ),
    "bundle_items": (
        "id",
        "SELECT id FROM bundle_items WHERE bundled_at < $1 ORDER BY bundled_at",
    ),
    "unreached": ("id", "SELECT id FROM unreached WHERE created_at < $1 ORDER BY created_at"),
    "ack_links": (
        "link_id",
        "SELECT link_id FROM ack_links WHERE expires_at < $1 ORDER BY expires_at",
    ),
    "cases": ("case_id", "SELECT case_id FROM cases WHERE closed_at < $1 ORDER BY closed_at"),
}


async def purge_delivery_records(
    conn: asyncpg.Connection, before: datetime, batch: int
) -> dict[str, int]:
    """Delete up to `batch` rows of each table that ended before `before`; how many each."""
    gone: dict[str, int] = {}
    for table, (key, old) in _PURGES.items():
        status = await conn.execute(
            f"DELETE FROM {table} WHERE {key} IN ({old} LIMIT $2 FOR UPDATE SKIP LOCKED)",  # noqa: S608 - constant identifiers
            before,
            batch,
        )
        gone[table] = int(status.split()[-1])
    return gone
