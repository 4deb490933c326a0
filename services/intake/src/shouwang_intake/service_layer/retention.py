"""The hourly retention chore: receipts and idempotency keys end once their purpose has.

A receipt tells a reporter that their concern was received, handled, closed. Once closed (or
never taken up), its purpose ends with the window in which a reporter asks again or complains:
`INTAKE_RECEIPT_RETENTION_DAYS`, 365 by default (the academic year; notify keeps its delivery
records as long, docs/retention.md). An idempotency key answers a client's retry, which comes
within minutes: `INTAKE_IDEMPOTENCY_KEY_DAYS`, 7 by default. A retry after that publishes the
same event id again, which every consumer drops as a repeat (their memory of event ids is
1,111 days), so ending a key early loses nothing and doubles nothing.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import asyncpg
from shouwang_servicekit.tasks import Chore

from ..adapters import retention

logger = logging.getLogger(__name__)


def retention_chore(pool: asyncpg.Pool, *, receipt_days: int, key_days: int, batch: int) -> Chore:
    """One turn: purge what ended; True (run again at once) while a table gave a full batch."""

    async def purge() -> bool:
        now = datetime.now(UTC)
        purged = await retention.purge(
            pool,
            receipts_before=now - timedelta(days=receipt_days),
            keys_before=now - timedelta(days=key_days),
            batch=batch,
        )
        if purged.receipts or purged.idempotency_keys:
            logger.info(
                "retention: %d receipts, %d idempotency keys",
                purged.receipts,
                purged.idempotency_keys,
            )
        return batch in (purged.receipts, purged.idempotency_keys)

    return purge
