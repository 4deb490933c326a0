"""Intake's census state: each upload's batch (its heartbeat, its outcome) and row errors."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from ..domain.census import RowError


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


class CensusBatches:
    """The census half of `IntakeStore`: batches and their row errors, on the main pool."""

    _pool: asyncpg.Pool

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


def _unique_fields(errors: list[RowError]) -> list[RowError]:
    seen: set[tuple[int, str]] = set()
    unique = []
    for error in errors:
        if (error.row_number, error.field) not in seen:
            seen.add((error.row_number, error.field))
            unique.append(error)
    return unique
