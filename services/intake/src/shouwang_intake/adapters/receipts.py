"""Intake's receipts: what a reporter may see of their report, and how case events move it.

A receipt is written with its idempotency key's completion, batched (`CoalescingWriter`) on
a pool of its own that commits without waiting for the WAL flush (`create_receipts_pool`);
case events move receipts forward once per event id (`ReceiptAdvance`); an erasure takes a
student's receipts (`adapters.erasure`).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from .coalescing import CoalescingWriter
from .erasure import Erased, ReceiptErasure, erase_receipts


@dataclass(frozen=True, slots=True)
class Receipt:
    report_id: uuid.UUID
    reporter_ref: str
    kind: str
    status: str
    received_at: datetime
    updated_at: datetime


class Receipts:
    """The receipts half of `IntakeStore`: written through `_receipts` (batched on
    `_receipts_pool`), read and advanced on the main `_pool`."""

    _pool: asyncpg.Pool
    _receipts_pool: asyncpg.Pool
    _receipts: CoalescingWriter

    def record_receipt(
        self,
        *,
        report_id: uuid.UUID,
        campus_id: str,
        reporter_ref: str,
        kind: str,
        received_at: datetime,
        idempotency: tuple[str, dict[str, Any]] | None = None,
        student_ref: str | None = None,
    ) -> asyncio.Future[None]:
        """Queue the receipt (and the idempotency key's completion); the future resolves
        once committed.

        Concurrent calls share one statement: while a write is in flight, the next ones
        gather, so a busy intake makes one round trip per batch instead of one per report.
        """
        key, response = idempotency if idempotency is not None else (None, None)
        row = (
            report_id,
            campus_id,
            reporter_ref,
            kind,
            received_at,
            key,
            json.dumps(response) if response is not None else None,
            student_ref,
        )
        return self._receipts.submit(row)

    async def forget_receipt(self, report_id: uuid.UUID) -> None:
        """Remove a receipt whose event Kafka never acknowledged (nobody was given its id)."""
        await self._pool.execute(
            "DELETE FROM receipts WHERE report_id = $1 AND status = 'received'", report_id
        )

    async def _write_receipts(self, rows: list[tuple[Any, ...]]) -> None:
        columns = list(zip(*rows, strict=True))
        await self._receipts_pool.execute(
            """
            WITH batch AS (
                SELECT * FROM unnest(
                    $1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[],
                    $6::text[], $7::jsonb[], $8::text[]
                ) AS r(report_id, campus_id, reporter_ref, kind, received_at, idem_key, response,
                       student_ref)
            ), receipt AS (
                INSERT INTO receipts
                    (report_id, campus_id, reporter_ref, kind, received_at, updated_at,
                     student_ref)
                SELECT report_id, campus_id, reporter_ref, kind, received_at, received_at,
                       student_ref
                  FROM batch
                ON CONFLICT (report_id) DO NOTHING
            )
            UPDATE idempotency_keys AS k SET state = 'completed', response = batch.response
              FROM batch
             WHERE batch.idem_key IS NOT NULL
               AND k.campus_id = batch.campus_id
               AND k.principal_ref = batch.reporter_ref
               AND k.idem_key = batch.idem_key
            """,
            *columns,
        )

    async def receipt(self, campus_id: str, report_id: uuid.UUID) -> Receipt | None:
        row = await self._pool.fetchrow(
            "SELECT report_id, reporter_ref, kind, status, received_at, updated_at"
            " FROM receipts WHERE campus_id = $1 AND report_id = $2",
            campus_id,
            report_id,
        )
        return Receipt(**dict(row)) if row else None

    async def receipts_of(
        self, campus_id: str, reporter_ref: str, kind: str, limit: int
    ) -> list[Receipt]:
        """A reporter's own receipts of one kind, newest first."""
        rows = await self._pool.fetch(
            "SELECT report_id, reporter_ref, kind, status, received_at, updated_at"
            " FROM receipts WHERE campus_id = $1 AND reporter_ref = $2 AND kind = $3"
            " ORDER BY received_at DESC LIMIT $4",
            campus_id,
            reporter_ref,
            kind,
            limit,
        )
        return [Receipt(**dict(row)) for row in rows]

    async def advance_receipts(
        self,
        event_id: str,
        *,
        case_id: str,
        status: str,
        report_ids: list[str],
    ) -> bool:
        """Move receipts forward on a case event, once per event id; never backwards."""
        (advanced,) = await self.advance_receipts_many(
            [ReceiptAdvance(event_id, case_id, status, report_ids)]
        )
        return advanced

    async def advance_receipts_many(self, advances: Sequence[ReceiptAdvance]) -> list[bool]:
        """`advance_receipts` for each case event in order, in one transaction (a consumer's
        batch: one commit for all of them); True for each event seen for the first time."""
        async with self._pool.acquire() as conn, conn.transaction():
            return [await _advance(conn, advance) for advance in advances]

    async def erase_student_receipts(self, erasure: ReceiptErasure) -> Erased | None:
        """A student's receipts and their idempotency keys, on an erasure (`adapters.erasure`)."""
        return await erase_receipts(self._pool, erasure)


async def create_receipts_pool(dsn: str) -> asyncpg.Pool:
    """The pool receipts are written through: one connection, since `CoalescingWriter` runs
    one statement at a time, whose session commits without waiting for the WAL flush.

    A receipt is visible to every session the moment it commits, so the 202's Location
    answers at once, but the report waits only for Kafka's ack and a network round trip, not
    for a disk flush that on a disk shared with the broker stalls for many milliseconds now
    and then, holding every report in flight (bench/README.md). What this risks, only if
    PostgreSQL itself crashes: the receipts and idempotency completions of the last few
    hundred milliseconds (at most three `wal_writer_delay`s). Their events are in Kafka,
    which is the promise, and a retry with the same Idempotency-Key finds its key still
    pending, publishes the same event id again (consumers deduplicate) and writes the receipt
    anew. Claims of keys, census batches and everything else keep synchronous commits on the
    main pool.
    """
    return await asyncpg.create_pool(
        dsn,
        min_size=1,
        max_size=1,
        command_timeout=10,
        connection_class=QuietConnection,
        server_settings={"synchronous_commit": "off"},
    )


class QuietConnection(asyncpg.Connection):
    """Intake never changes session state, so returning a connection to the pool needs no
    RESET round trip (asyncpg's default costs one per statement through the pool)."""

    def get_reset_query(self) -> str:
        return ""


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class ReceiptAdvance:
    """What one case event does to its reports' receipts."""

    event_id: str
    case_id: str
    status: str
    report_ids: list[str]
    student_ref: str | None = None  # who the case is about (receipts from before 0006 learn it)


#: A receipt's statuses in the order they advance (never back: a replayed event is a no-op).
RECEIPT_STATUS_ORDER = ["received", "in_progress", "closed"]

#: One statement per case event (it was three: the claim, linking the reports, the status):
#: the claim gates the update; the reports named are linked to the case and every receipt of
#: the case moves forward, never backwards, in one UPDATE (a statement changes a row once).
_ADVANCE = """
    WITH claimed AS (
        INSERT INTO processed_events (event_id) VALUES ($1)
        ON CONFLICT DO NOTHING
        RETURNING event_id
    ), advanced AS (
        UPDATE receipts
           SET case_id = CASE WHEN report_id = ANY($4::uuid[]) THEN $2 ELSE case_id END,
               student_ref = COALESCE(student_ref, $7),
               status = CASE WHEN array_position($6::text[], status)
                                < array_position($6::text[], $3::text)
                             THEN $3 ELSE status END,
               updated_at = $5
         WHERE EXISTS (SELECT 1 FROM claimed)
           AND (report_id = ANY($4::uuid[])
                OR (case_id = $2
                    AND array_position($6::text[], status)
                      < array_position($6::text[], $3::text)))
        RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM claimed)
"""


async def _advance(conn: Any, advance: ReceiptAdvance) -> bool:
    return bool(
        await conn.fetchval(
            _ADVANCE,
            advance.event_id,
            advance.case_id,
            advance.status,
            [uuid.UUID(r) for r in advance.report_ids if _is_uuid(r)],
            datetime.now(UTC),
            RECEIPT_STATUS_ORDER,
            advance.student_ref,
        )
    )
