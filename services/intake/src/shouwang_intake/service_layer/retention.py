"""The hourly retention chore: receipts, idempotency keys and census upload records end once
their purpose has.

A receipt tells a reporter that their concern was received, handled, closed. Once closed (or
never taken up), its purpose ends with the window in which a reporter asks again or complains:
`INTAKE_RECEIPT_RETENTION_DAYS`, 365 by default (the academic year; notify keeps its delivery
records as long, docs/retention.md). An idempotency key answers a client's retry, which comes
within minutes: `INTAKE_IDEMPOTENCY_KEY_DAYS`, 7 by default. A retry after that publishes the
same event id again, which every consumer drops as a repeat (their memory of event ids is
1,111 days), so ending a key early loses nothing and doubles nothing.

A census upload's row errors tell the uploader which rows were refused or read in part, and
why, so that they correct the file and send it again: a question of the screening campaign's
weeks, and the messages quote what a cell said (a name typed in the wrong column, a number):
`INTAKE_CENSUS_ERROR_DAYS`, 90 by default. The upload's record (file hash, counts, the
uploader's pseudonym) answers "did our census go through" for the academic year, like a
receipt: `INTAKE_CENSUS_BATCH_DAYS`, 365 by default. The same file sent after its record
ended is read again; its rows' event ids derive from their content, so every consumer drops
them as repeats.
"""

from __future__ import annotations

import logging
from dataclasses import astuple
from datetime import UTC, datetime, timedelta

import asyncpg
from shouwang_servicekit.tasks import Chore

from ..adapters import retention

logger = logging.getLogger(__name__)


def retention_chore(
    pool: asyncpg.Pool,
    *,
    receipt_days: int,
    key_days: int,
    census_error_days: int,
    census_batch_days: int,
    batch: int,
) -> Chore:
    """One turn: purge what ended; True (run again at once) while a table gave a full batch."""

    async def purge() -> bool:
        now = datetime.now(UTC)
        purged = await retention.purge(
            pool,
            receipts_before=now - timedelta(days=receipt_days),
            keys_before=now - timedelta(days=key_days),
            census_errors_before=now - timedelta(days=census_error_days),
            census_batches_before=now - timedelta(days=census_batch_days),
            batch=batch,
        )
        if any(astuple(purged)):
            logger.info(
                "retention: %d receipts, %d idempotency keys, %d census row errors,"
                " %d census batches",
                *astuple(purged),
            )
        return purged.full(batch)

    return purge
