"""Retention of receipts and idempotency keys: the rows the hourly chore deletes once old.

Each statement deletes at most `batch` rows, the oldest first, so one turn holds few locks and
never stalls the receipt writer; the chore runs again at once while a table gave a full batch.
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
        "DELETE FROM receipts WHERE report_id IN ("
        " SELECT report_id FROM receipts WHERE updated_at < $1 AND status <> 'in_progress'"
        " ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
        receipts_before,
        batch,
    )
    keys = await pool.execute(
        "DELETE FROM idempotency_keys WHERE (campus_id, principal_ref, idem_key) IN ("
        " SELECT campus_id, principal_ref, idem_key FROM idempotency_keys WHERE created_at < $1"
        " ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
        keys_before,
        batch,
    )
    return Purged(int(receipts.split()[-1]), int(keys.split()[-1]))
