"""Erasing what intake holds of one student, on their request (PIPL Art. 47).

Intake keeps no report text or screening answer (they are sealed and published at once);
what it holds of a student is the reporters' receipts of reports about them (which report,
when, its case and status) and the idempotency keys that answer a retried submission with
that receipt. On `student.erased` both go for every receipt received at the erasure's time or
before; a report made after the request keeps its receipt.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg


@dataclass(frozen=True, slots=True)
class ReceiptErasure:
    """One `student.erased` event, as intake applies it."""

    event_id: str
    campus_id: str
    student_ref: str
    erased_at: datetime


@dataclass(frozen=True, slots=True)
class Erased:
    """How many rows went: counts only."""

    receipts: int
    idempotency_keys: int


async def erase_receipts(pool: asyncpg.Pool, erasure: ReceiptErasure) -> Erased | None:
    """Delete the student's receipts and their idempotency keys, once per event id (None: the
    event was applied before), in one transaction."""
    async with pool.acquire() as conn, conn.transaction():
        claimed = await conn.fetchval(
            "INSERT INTO processed_events (event_id) VALUES ($1)"
            " ON CONFLICT DO NOTHING RETURNING true",
            erasure.event_id,
        )
        if not claimed:
            return None
        receipts = await conn.fetch(
            "DELETE FROM receipts WHERE campus_id = $1 AND student_ref = $2"
            " AND received_at <= $3 RETURNING report_id",
            erasure.campus_id,
            erasure.student_ref,
            erasure.erased_at,
        )
        keys = await conn.execute(
            "DELETE FROM idempotency_keys WHERE campus_id = $1 AND resource_id = ANY($2::uuid[])",
            erasure.campus_id,
            [r["report_id"] for r in receipts],
        )
    return Erased(len(receipts), int(keys.split()[-1]))
