"""Intake's PostgreSQL state: receipts, idempotency keys, census batches and row errors.

`IntakeStore` is all of it behind one object; the receipts (`receipts.Receipts`) and the
census batches (`census_batches.CensusBatches`) are written in their own modules, the
idempotency keys here. Their names stay importable from this module.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from .census_batches import CensusBatch, CensusBatches
from .coalescing import CoalescingWriter
from .receipts import (
    RECEIPT_STATUS_ORDER,
    QuietConnection,
    Receipt,
    ReceiptAdvance,
    Receipts,
    create_receipts_pool,
)

__all__ = [
    "RECEIPT_STATUS_ORDER",
    "CensusBatch",
    "CoalescingWriter",
    "IdempotencyRecord",
    "IntakeStore",
    "QuietConnection",
    "Receipt",
    "ReceiptAdvance",
    "create_receipts_pool",
]


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    fingerprint: bytes
    resource_id: uuid.UUID
    state: str
    response: dict[str, Any] | None


class IntakeStore(Receipts, CensusBatches):
    """All SQL intake runs, behind methods named for what they mean."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        receipt_gather_seconds: float = 0.0,
        receipts_pool: asyncpg.Pool | None = None,
    ) -> None:
        """`receipt_gather_seconds`: how long the first receipt after a quiet spell waits for
        others to share its statement (see `CoalescingWriter`).

        `receipts_pool`: where receipts are written, if not `pool`; intake passes one whose
        sessions commit without waiting for the WAL flush (`create_receipts_pool`).
        """
        self._pool = pool
        self._receipts_pool = receipts_pool if receipts_pool is not None else pool
        self._receipts = CoalescingWriter(
            self._write_receipts, gather_seconds=receipt_gather_seconds
        )

    async def ping(self) -> bool:
        return bool(await self._pool.fetchval("SELECT 1"))

    # --- idempotency -------------------------------------------------------------------

    async def claim_key(
        self,
        campus_id: str,
        principal_ref: str,
        key: str,
        fingerprint: bytes,
        resource_id: uuid.UUID,
    ) -> IdempotencyRecord | None:
        """Claim a key; None if it was free, else the record that already holds it."""
        row = await self._pool.fetchrow(
            """
            WITH claimed AS (
                INSERT INTO idempotency_keys
                    (campus_id, principal_ref, idem_key, fingerprint, resource_id, state)
                VALUES ($1, $2, $3, $4, $5, 'pending')
                ON CONFLICT DO NOTHING
                RETURNING 1
            )
            SELECT fingerprint, resource_id, state, response
              FROM idempotency_keys
             WHERE campus_id = $1 AND principal_ref = $2 AND idem_key = $3
               AND NOT EXISTS (SELECT 1 FROM claimed)
            """,
            campus_id,
            principal_ref,
            key,
            fingerprint,
            resource_id,
        )
        if row is None:
            return None
        response = json.loads(row["response"]) if row["response"] else None
        return IdempotencyRecord(row["fingerprint"], row["resource_id"], row["state"], response)

    async def release_key(self, campus_id: str, principal_ref: str, key: str) -> None:
        """Forget a pending claim whose write Kafka did not take, so a retry can try again."""
        await self._pool.execute(
            "DELETE FROM idempotency_keys WHERE campus_id = $1 AND principal_ref = $2"
            " AND idem_key = $3 AND state = 'pending'",
            campus_id,
            principal_ref,
            key,
        )
