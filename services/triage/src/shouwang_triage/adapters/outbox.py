"""The outbox relay: publish committed outbox rows to Kafka, then delete them.

Two lanes, each drained in id order by at most one relay at a time across replicas:
`urgent` (whatever tier reports, individual screenings and escalations cause) and `bulk`
(whatever the census causes), so a census backlog never delays a report's alert.

The relay of a lane is the replica holding the lane's session advisory lock, on a connection
it keeps while it leads; the others retry at each poll and take over when that connection
goes (PostgreSQL then releases the lock). Leading by session rather than per transaction
keeps an alert's way out short: one read, the publish, one delete, instead of a transaction
that also begins, locks and commits, each a round trip that waits for a core on a busy host.
A crash or a lost connection after publishing and before deleting republishes the same
event ids; consumers deduplicate by id.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from faststream.kafka import KafkaBroker
from shouwang_contracts.cooperative import TimeSlice

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
        self._leading: dict[str, PoolConnectionProxy] = {}

    def wake(self, lane: str) -> None:
        """Something was committed to `lane`: publish it now rather than at the next poll."""
        self._wake[lane].set()

    async def run(self, lanes: tuple[str, ...] = LANES) -> None:
        """Drain `lanes` until cancelled; gives up the lanes' leadership when it stops."""
        try:
            await asyncio.gather(*(self._run_lane(lane) for lane in lanes))
        finally:
            for lane in lanes:
                await self._resign(lane)

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

    async def _lead(self, lane: str) -> PoolConnectionProxy | None:
        """The connection holding `lane`'s lock, taking the lock if free; None if another
        relay leads."""
        conn = self._leading.get(lane)
        if conn is not None and _alive(conn):
            return conn
        await self._resign(lane)
        conn = await self._pool.acquire()
        try:
            held = await conn.fetchval("SELECT pg_try_advisory_lock($1)", _LOCK_KEYS[lane])
        except BaseException:
            await self._pool.release(conn)
            raise
        if not held:
            await self._pool.release(conn)
            return None
        logger.info("outbox relay leads lane %s", lane)
        self._leading[lane] = conn
        return conn

    async def _resign(self, lane: str) -> None:
        conn = self._leading.pop(lane, None)
        if conn is None:
            return
        try:
            if _alive(conn):
                await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEYS[lane])
        except Exception:  # a broken connection: PostgreSQL released the lock with it
            logger.warning("outbox relay left lane %s without unlocking", lane, exc_info=True)
        finally:
            await self._pool.release(conn)  # nothing to do for a lost connection

    async def drain_once(self, lane: str) -> int:
        """Publish one batch of `lane`, then delete it; 0 if empty or another relay leads.

        Rows are deleted only once Kafka acknowledged every one of them: a failure leaves
        them to be published again (same event ids), so nothing is lost.
        """
        conn = await self._lead(lane)
        if conn is None:
            return 0
        try:
            rows = await conn.fetch(
                "SELECT id, topic, key, value, headers FROM outbox WHERE lane = $1"
                " ORDER BY id LIMIT $2",
                lane,
                self._batch,
            )
            if not rows:
                metrics.OUTBOX_PENDING.labels(lane).set(0)
                return 0
            # Sends are issued in id order (one student's events stay in order on their
            # partition) and their acknowledgements awaited together.
            pending = []
            held = TimeSlice()
            for row in rows:
                if held.over():
                    await asyncio.sleep(0)  # let a report's handler run between slices
                    held.renew()
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
            await conn.execute(
                "DELETE FROM outbox WHERE id = ANY($1::bigint[])", [row["id"] for row in rows]
            )
        except Exception:
            if not _alive(conn):
                await self._resign(lane)  # whoever holds the lock next publishes these again
            raise
        metrics.OUTBOX_PENDING.labels(lane).set(max(len(rows) - self._batch, 0))
        return len(rows)


def _alive(conn: PoolConnectionProxy) -> bool:
    """False once the connection is gone (asyncpg then detaches its pool proxy)."""
    try:
        return not conn.is_closed()
    except asyncpg.InterfaceError:
        return False
