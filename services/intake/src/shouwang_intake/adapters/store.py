"""Intake's PostgreSQL state: receipts, idempotency keys, census batches and row errors."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from ..domain.census import RowError
from .erasure import Erased, ReceiptErasure, erase_receipts


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    fingerprint: bytes
    resource_id: uuid.UUID
    state: str
    response: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class Receipt:
    report_id: uuid.UUID
    reporter_ref: str
    kind: str
    status: str
    received_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class CensusBatch:
    batch_id: uuid.UUID
    campus_id: str
    submitted_by_ref: str
    status: str
    rows_total: int
    rows_accepted: int
    rows_rejected: int
    failure: str | None  # zh-CN
    failure_en: str | None
    created_at: datetime
    completed_at: datetime | None
    heartbeat_at: datetime | None = None  # last sign of life of the upload writing it
    rows_incomplete: int = 0  # of rows_accepted: published with blanks or unreadable cells


class IntakeStore:
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

    # --- receipts ----------------------------------------------------------------------

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

    # --- census ------------------------------------------------------------------------

    async def start_batch(
        self,
        batch_id: uuid.UUID,
        campus_id: str,
        submitted_by_ref: str,
        file_sha256: str,
        *,
        stale_seconds: float,
    ) -> CensusBatch | None:
        """Register a batch; None if new, else the existing batch for the same file.

        A failed batch starts again, and so does one still 'processing' whose upload has not
        beaten for `stale_seconds` (the process writing it died)."""
        inserted = await self._pool.fetchval(
            """
            INSERT INTO census_batches
                (batch_id, campus_id, submitted_by_ref, file_sha256, status, heartbeat_at)
            VALUES ($1, $2, $3, $4, 'processing', now())
            ON CONFLICT (batch_id) DO UPDATE
                SET status = 'processing', failure = NULL, failure_en = NULL,
                    heartbeat_at = now()
                WHERE census_batches.status = 'failed'
                   OR (census_batches.status = 'processing'
                       AND coalesce(census_batches.heartbeat_at, census_batches.created_at)
                           < now() - make_interval(secs => $5))
            RETURNING true
            """,
            batch_id,
            campus_id,
            submitted_by_ref,
            file_sha256,
            stale_seconds,
        )
        if inserted:
            await self._pool.execute("DELETE FROM census_row_errors WHERE batch_id = $1", batch_id)
            return None
        return await self.batch(campus_id, batch_id)

    async def beat(self, batch_id: uuid.UUID) -> None:
        """The upload writing this batch is alive."""
        await self._pool.execute(
            "UPDATE census_batches SET heartbeat_at = now()"
            " WHERE batch_id = $1 AND status = 'processing'",
            batch_id,
        )

    async def fail_abandoned_batch(
        self,
        campus_id: str,
        batch_id: uuid.UUID,
        *,
        stale_seconds: float,
        failure: str,
        failure_en: str,
    ) -> CensusBatch | None:
        """End a batch `failed` if it is still 'processing' with no heartbeat for
        `stale_seconds`; returns it as it now is (None if it was not abandoned)."""
        row = await self._pool.fetchrow(
            """
            UPDATE census_batches
               SET status = 'failed', failure = $4, failure_en = $5, completed_at = now()
             WHERE campus_id = $1 AND batch_id = $2 AND status = 'processing'
               AND coalesce(heartbeat_at, created_at) < now() - make_interval(secs => $3)
            RETURNING batch_id, campus_id, submitted_by_ref, status, rows_total, rows_accepted,
                      rows_rejected, failure, failure_en, created_at, completed_at, heartbeat_at,
                      rows_incomplete
            """,
            campus_id,
            batch_id,
            stale_seconds,
            failure,
            failure_en,
        )
        return CensusBatch(**dict(row)) if row else None

    async def finish_batch(
        self,
        batch_id: uuid.UUID,
        *,
        status: str,
        total: int,
        accepted: int,
        errors: list[RowError],
        incomplete: int = 0,
        failure: str | None = None,
        failure_en: str | None = None,
    ) -> None:
        """Record how a batch ended; rows with an error that was not `graded` are rejected."""
        rejected = len({e.row_number for e in errors if not e.graded})
        async with self._pool.acquire() as conn, conn.transaction():
            if errors:
                await conn.copy_records_to_table(
                    "census_row_errors",
                    records=[
                        (batch_id, e.row_number, e.field, e.code, e.message, e.message_en, e.graded)
                        for e in _unique_fields(errors)
                    ],
                    columns=[
                        "batch_id",
                        "row_number",
                        "field",
                        "code",
                        "message",
                        "message_en",
                        "graded",
                    ],
                )
            await conn.execute(
                """
                UPDATE census_batches
                   SET status = $2, rows_total = $3, rows_accepted = $4, rows_rejected = $5,
                       failure = $6, failure_en = $7, completed_at = now(), rows_incomplete = $8
                 WHERE batch_id = $1
                """,
                batch_id,
                status,
                total,
                accepted,
                rejected,
                failure,
                failure_en,
                incomplete,
            )

    async def batch(self, campus_id: str, batch_id: uuid.UUID) -> CensusBatch | None:
        row = await self._pool.fetchrow(
            "SELECT batch_id, campus_id, submitted_by_ref, status, rows_total, rows_accepted,"
            " rows_rejected, failure, failure_en, created_at, completed_at, heartbeat_at,"
            " rows_incomplete FROM census_batches WHERE campus_id = $1 AND batch_id = $2",
            campus_id,
            batch_id,
        )
        return CensusBatch(**dict(row)) if row else None

    async def batch_errors(self, batch_id: uuid.UUID, *, limit: int, offset: int) -> list[RowError]:
        rows = await self._pool.fetch(
            "SELECT row_number, field, code, message, message_en, graded FROM census_row_errors"
            " WHERE batch_id = $1 ORDER BY row_number, field LIMIT $2 OFFSET $3",
            batch_id,
            limit,
            offset,
        )
        return [RowError(**dict(r)) for r in rows]


class CoalescingWriter:
    """Writes rows in batches: callers await their own row; one write runs at a time.

    The first row after a quiet spell waits `gather_seconds` for others, then everything
    queued goes in one write; rows arriving during a write go together in the next one, at
    once. With `gather_seconds=0` the first row is written without delay.
    """

    def __init__(
        self,
        write: Callable[[list[tuple[Any, ...]]], Awaitable[None]],
        *,
        max_batch: int = 500,
        gather_seconds: float = 0.0,
    ) -> None:
        self._write = write
        self._max_batch = max_batch
        self._gather = gather_seconds
        self._pending: list[tuple[tuple[Any, ...], asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    def submit(self, row: tuple[Any, ...]) -> asyncio.Future[None]:
        """Queue a row; the future resolves when its batch is written (or fails with it)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((row, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return done

    async def _flush(self) -> None:
        if self._gather > 0:
            await asyncio.sleep(self._gather)
        while self._pending:
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            try:
                await self._write([row for row, _ in batch])
            except Exception as exc:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)


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


def _unique_fields(errors: list[RowError]) -> list[RowError]:
    seen: set[tuple[int, str]] = set()
    unique = []
    for error in errors:
        if (error.row_number, error.field) not in seen:
            seen.add((error.row_number, error.field))
            unique.append(error)
    return unique


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
