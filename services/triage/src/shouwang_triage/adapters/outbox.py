"""The outbox relay: publish committed outbox rows to Kafka, then delete them.

Two lanes, each drained in id order by at most one relay at a time across replicas (a
transaction-scoped advisory lock): `urgent` (whatever tier reports, individual screenings and
escalations cause) and `bulk` (whatever the census causes), so a census backlog never delays
a report's alert.
A crash after publishing and before deleting republishes the same event ids; consumers
deduplicate by id.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

import asyncpg
from faststream.kafka import KafkaBroker

from .. import metrics

logger = logging.getLogger("shouwang.triage.relay")

LANES = ("urgent", "bulk")
_LOCK_KEYS = {"urgent": 0x7472_0001, "bulk": 0x7472_0002}


class OutboxRelay:
    """Publishes outbox rows; `wake(lane)` after a commit makes it publish at once."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        publishers: dict[str, KafkaBroker],
        *,
        batch: int,
        poll_seconds: float,
    ) -> None:
        # One producer per lane: a producer sends one request per broker at a time, so a
        # census's records in its buffer would otherwise travel ahead of an urgent alert.
        self._pool = pool
        self._publishers = publishers
        self._batch = batch
        self._poll = poll_seconds
        self._wake = {lane: asyncio.Event() for lane in LANES}

    def wake(self, lane: str) -> None:
        """Something was committed to `lane`: publish it now rather than at the next poll."""
        self._wake[lane].set()

    async def run(self, lanes: tuple[str, ...] = LANES) -> None:
        """Drain `lanes` until cancelled."""
        await asyncio.gather(*(self._run_lane(lane) for lane in lanes))

    async def _run_lane(self, lane: str) -> None:
        wake = self._wake[lane]
        while True:
            wake.clear()
            try:
                sent = await self.drain_once(lane)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("outbox relay failed on lane %s; retrying", lane)
                await asyncio.sleep(self._poll)
                continue
            if sent >= self._batch:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), self._poll)

    async def drain_once(self, lane: str) -> int:
        """Publish one batch of `lane` and delete it; 0 if empty or another relay holds it.

        The rows are deleted before they are published, in the transaction that commits only
        once Kafka acknowledged every one: a failure or a crash rolls the delete back, so the
        rows are published again (same event ids) and nothing is lost.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", _LOCK_KEYS[lane]):
                return 0
            rows = sorted(
                await conn.fetch(
                    "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE lane = $1"
                    " ORDER BY id LIMIT $2) RETURNING id, topic, key, value, headers",
                    lane,
                    self._batch,
                ),
                key=lambda row: row["id"],
            )
            if not rows:
                metrics.OUTBOX_PENDING.labels(lane).set(0)
                return 0
            # Sends are issued in id order (one student's events stay in order on their
            # partition) and their acknowledgements awaited together.
            pending = []
            for index, row in enumerate(rows):
                if index and index % 50 == 0:
                    await asyncio.sleep(0)  # let a report's handler run between chunks
                pending.append(
                    await self._publishers[lane].publish(
                        row["value"],
                        row["topic"],
                        key=row["key"],
                        headers=json.loads(row["headers"]),
                        no_confirm=True,
                    )
                )
            await asyncio.gather(*pending)
            metrics.OUTBOX_PENDING.labels(lane).set(max(len(rows) - self._batch, 0))
            return len(rows)
