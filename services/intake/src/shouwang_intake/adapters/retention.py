"""Retention of receipts, idempotency keys and census upload records: the rows the hourly
chore deletes once old.

Each statement deletes at most `batch` rows, the oldest first, so one turn holds few locks and
never stalls the receipt writer; the chore runs again at once while a table gave a full batch.
The batch is chosen in a materialised CTE: inside `IN (...)` PostgreSQL may run the locking
subquery again per row, and rows the statement already deleted are then skipped, so a
"batch" would grow past its limit.
A receipt whose case is still being handled (`in_progress`) is never touched: the reporter is
still owed the word that it closed, and the clock starts again from that closing.
A census upload's row errors go before its batch record, a batch at a time of rows, so the
batch's own delete (which cascades to its errors) never deletes an unbounded number of rows;
an upload still running beats every few seconds, so it is never old enough.
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
    census_row_errors: int = 0
    census_batches: int = 0

    def full(self, batch: int) -> bool:
        """Whether a table gave a full batch (there may be more)."""
        return batch in (
            self.receipts,
            self.idempotency_keys,
            self.census_row_errors,
            self.census_batches,
        )


# When a census upload last moved: it ended, or (cut off) last beat, or started.
_CENSUS_AGE = "coalesce(b.completed_at, b.heartbeat_at, b.created_at)"

_CENSUS_ROW_ERRORS = f"""
WITH due AS MATERIALIZED (
    SELECT e.batch_id, e.row_number, e.field FROM census_row_errors e
    JOIN census_batches b ON b.batch_id = e.batch_id
    WHERE {_CENSUS_AGE} < $1
    LIMIT $2 FOR UPDATE OF e SKIP LOCKED)
DELETE FROM census_row_errors e USING due
WHERE (e.batch_id, e.row_number, e.field) = (due.batch_id, due.row_number, due.field)
"""  # noqa: S608 - a constant expression

_CENSUS_BATCHES = f"""
WITH due AS MATERIALIZED (
    SELECT b.batch_id FROM census_batches b
    WHERE {_CENSUS_AGE} < $1
      AND NOT EXISTS (SELECT 1 FROM census_row_errors e WHERE e.batch_id = b.batch_id)
    ORDER BY {_CENSUS_AGE} LIMIT $2 FOR UPDATE SKIP LOCKED)
DELETE FROM census_batches b USING due WHERE b.batch_id = due.batch_id
"""  # noqa: S608 - a constant expression


async def purge(
    pool: asyncpg.Pool,
    *,
    receipts_before: datetime,
    keys_before: datetime,
    census_errors_before: datetime,
    census_batches_before: datetime,
    batch: int,
) -> Purged:
    """Delete up to `batch` receipts that last moved before `receipts_before` (their case
    closed, or never opened), up to `batch` idempotency keys made before `keys_before`, up to
    `batch` row errors of census uploads that ended before `census_errors_before`, and up to
    `batch` census upload records (with no row error left) that ended before
    `census_batches_before`."""
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
    errors = await pool.execute(_CENSUS_ROW_ERRORS, census_errors_before, batch)
    batches = await pool.execute(_CENSUS_BATCHES, census_batches_before, batch)
    return Purged(*(int(status.split()[-1]) for status in (receipts, keys, errors, batches)))
