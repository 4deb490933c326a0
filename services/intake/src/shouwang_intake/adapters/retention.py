"""Retention of receipts and idempotency keys: the rows the hourly chore deletes once old.

Each statement deletes at most `batch` rows, the oldest first, so one turn holds few locks and
never stalls the receipt writer; the chore runs again at once while a table gave a full batch.
The batch is chosen in a materialised CTE: inside `IN (...)` PostgreSQL may run the locking
subquery again per row, and rows the statement already deleted are then skipped, so a
"batch" would grow past its limit.
A receipt whose case is still being handled (`in_progress`) is never touched: the reporter is
still owed the word that it closed, and the clock starts again from that closing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg


@dataclass(frozen=True, slots=True)
class Purged:
    """How many rows of each table went in one turn."""

    receipts: int
    idempotency_keys: int


async def purge(
    pool: asyncpg.Pool, *, receipts_before: datetime, keys_before: datetime, batch: int
) -> Purged:
    """Delete up to `batch` receipts that last moved before `receipts_before` (their case
    closed, or never opened) and up to `batch` idempotency keys made before `keys_before`."""
    receipts = await pool.execute(
        "WITH due AS MATERIALIZED ("
        " SELECT report_id FROM receipts WHERE updated_at < $1 AND status <> 'in_progress'"
        " ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED)"
        " DELETE FROM receipts r USING due WHERE r.report_id = due.report_id",
        receipts_before,
        batch,
    )
    keys = await pool.execute(
        "WITH due AS MATERIALIZED ("
        " SELECT campus_id, principal_ref, idem_key FROM idempotency_keys WHERE created_at < $1"
        " ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)"
        " DELETE FROM idempotency_keys k USING due WHERE (k.campus_id, k.principal_ref,"
        " k.idem_key) = (due.campus_id, due.principal_ref, due.idem_key)",
        keys_before,
        batch,
    )
    return Purged(int(receipts.split()[-1]), int(keys.split()[-1]))
