"""The outbox relay: publish a service's committed outbox rows to Kafka, in id order.

A service writes each event into its outbox table in the transaction of the state change the
event describes; the relay publishes what committed. A table may hold several lanes (triage:
`urgent` for what reports cause, `bulk` for what the census causes), each drained on its own
so a backlog in one never delays the other.

Each lane is drained by one relay at a time across replicas: the replica holding the lane's
session advisory lock, on a connection it keeps while it leads. The others retry at each
poll and take over when that connection goes (PostgreSQL then releases the lock). Leading by
session rather than per transaction keeps an event's way out short: one read, the publish,
one write, instead of a transaction that also begins, locks and commits.

The leader hears commits at once, wherever they happened (a request, a consumer, another
replica): where `OutboxTable.channel` is set, a statement-level trigger on the table calls
`pg_notify(channel, lane)` (delivered at commit only, once per transaction and lane), and the
leader LISTENs on the connection that holds its lock. The poll is then only the safety net
(a lost notification; a follower taking over). A leader whose connection drops is woken at
once to lead again (with the error backoff while PostgreSQL is away); one that leads without
listening says so (a warning, `RelayObserver.listening`) and polls at `deaf_poll_seconds`.

Rows are deleted once Kafka acknowledged every one of them, or marked `published_at` (and
purged later) where the table keeps them for inspection. A crash or a lost connection after
publishing and before that write publishes the same event ids again; consumers deduplicate
by id. Nothing is lost.

The table has `id` (bigserial), `event_id` (unique), `topic`, `key` (bytea), the record's
bytes, `headers` (jsonb) and `created_at`, plus the campus, lane and `published_at` columns
where `OutboxTable` names them. `OutboxTable.enqueue` (outbox_table) writes the rows the
relay reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from faststream.kafka import KafkaBroker

from .backoff import Backoff
from .cooperative import TimeSlice
from .outbox_table import OutboxTable, quoted

logger = logging.getLogger("shouwang.outbox")

#: How long a relay waits at most after failures before it tries its lane again.
LONGEST_ERROR_PAUSE_SECONDS = 10.0


@dataclass(frozen=True)
class OutboxLane:
    """One lane: the producer that publishes it and the advisory lock its leader holds (a
    number unique among the service's advisory locks)."""

    publisher: KafkaBroker
    lock_key: int


@dataclass(frozen=True, slots=True)
class OutboxRecord:
    """One row the relay published."""

    id: int
    topic: str
    key: bytes
    value: bytes
    headers: dict[str, str]
    age_seconds: float


class RelayObserver:
    """What the relay reports, for the service's metrics; every method does nothing here."""

    def published(self, lane: str, records: Sequence[OutboxRecord]) -> None:
        """Kafka acknowledged `records` (id order; the first is the oldest that was waiting)."""

    def idle(self, lane: str) -> None:
        """The lane had nothing to publish."""

    def listening(self, lane: str, listening: bool) -> None:
        """This relay, leading `lane`, now hears its commits at once (True), or no longer
        (False: it resigned, lost its connection, or leads without listening and polls)."""


class OutboxRelay:
    """Publishes one service's outbox: at once when its table's channel notifies a commit (or
    `wake(lane)` is called), else at each poll."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        table: OutboxTable,
        lanes: Mapping[str, OutboxLane],
        *,
        batch: int,
        poll_seconds: float,
        deaf_poll_seconds: float = 0.5,
        observer: RelayObserver | None = None,
    ) -> None:
        self._pool = pool
        self._table = table
        self._lanes = dict(lanes)
        self._batch = batch
        self._poll = poll_seconds
        self._deaf_poll = min(poll_seconds, deaf_poll_seconds)
        self._observer = observer or RelayObserver()
        self._wake = {lane: asyncio.Event() for lane in lanes}
        self._leading: dict[str, PoolConnectionProxy] = {}
        self._listening: set[str] = set()
        self._deaf: set[str] = set()  # leading without listening: warned once, until it listens
        # One callable per lane, so the connection's termination listener can be removed.
        self._on_lost = {lane: functools.partial(self._lost, lane) for lane in lanes}
        self._select, self._done = self._statements()

    def _statements(self) -> tuple[str, str]:
        t = self._table
        where = []
        if t.lane_column:
            where.append(f"{quoted(t.lane_column)} = $2")
        if t.keep_published:
            where.append("published_at IS NULL")
        select = (
            f"SELECT id, topic, key, {quoted(t.value_column)} AS value, headers,"  # noqa: S608 - identifiers checked by quoted()
            " extract(epoch FROM clock_timestamp() - created_at)::float8 AS age"
            f" FROM {t.name}"
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + " ORDER BY id LIMIT $1"
        )
        if t.keep_published:
            done = f"UPDATE {t.name} SET published_at = now() WHERE id = ANY($1::bigint[])"  # noqa: S608
        else:
            done = f"DELETE FROM {t.name} WHERE id = ANY($1::bigint[])"  # noqa: S608
        return select, done

    @property
    def lanes(self) -> tuple[str, ...]:
        return tuple(self._lanes)

    def wake(self, lane: str) -> None:
        """Something was committed to `lane`: publish it now rather than at the next poll
        (what the table's channel does for every commit, where it has one)."""
        self._wake[lane].set()

    def listens(self, lane: str) -> bool:
        """True while this relay leads `lane` and hears its commits at once."""
        return lane in self._listening

    async def run(self, lanes: Iterable[str] | None = None) -> None:
        """Drain `lanes` (default: all) until cancelled; gives up their leadership when it stops."""
        chosen = tuple(lanes) if lanes is not None else self.lanes
        try:
            await asyncio.gather(*(self._run_lane(lane) for lane in chosen))
        finally:
            for lane in chosen:
                await self.resign(lane)

    async def _run_lane(self, lane: str) -> None:
        wake = self._wake[lane]
        errors = Backoff(self._poll, max(self._poll, LONGEST_ERROR_PAUSE_SECONDS))
        while True:
            wake.clear()
            try:
                sent = await self.drain_once(lane)
            except asyncio.CancelledError:
                raise
            except Exception:
                pause = errors.next_pause()
                logger.exception("outbox relay failed on lane %s; retrying in %.1f s", lane, pause)
                await asyncio.sleep(pause)
                continue
            errors.reset()
            if sent >= self._batch:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), self._pause(lane))

    def _pause(self, lane: str) -> float:
        """The poll: slow while commits wake the lane (or another relay leads it), quicker
        while this relay leads it without hearing them."""
        deaf = bool(self._table.channel) and lane in self._leading and lane not in self._listening
        return self._deaf_poll if deaf else self._poll

    async def _lead(self, lane: str) -> PoolConnectionProxy | None:
        """The connection holding `lane`'s lock, taking the lock if free; None if another
        relay leads."""
        conn = self._leading.get(lane)
        if conn is not None and _alive(conn):
            if lane not in self._listening:
                await self._listen(lane, conn)
            return conn
        await self.resign(lane)
        conn = await self._pool.acquire()
        try:
            held = await conn.fetchval(
                "SELECT pg_try_advisory_lock($1)", self._lanes[lane].lock_key
            )
            if held and self._table.relay_setting:
                await conn.execute("SELECT set_config($1, 'on', false)", self._table.relay_setting)
        except BaseException:
            await self._pool.release(conn)
            raise
        if not held:
            await self._pool.release(conn)
            return None
        logger.info("outbox relay leads lane %s", lane)
        self._leading[lane] = conn
        conn.add_termination_listener(self._on_lost[lane])
        # Listening before the first read: a commit is either read now or notified later.
        await self._listen(lane, conn)
        return conn

    async def _listen(self, lane: str, conn: PoolConnectionProxy) -> None:
        channel = self._table.channel
        if channel is None:
            return
        try:
            await conn.add_listener(channel, self._notified)
        except Exception:
            # A lost connection fails the read that follows, and the lane leads again.
            if _alive(conn) and lane not in self._deaf:
                self._deaf.add(lane)
                logger.warning(
                    "outbox relay leads lane %s without listening on %s; polling every %.1f s",
                    lane,
                    channel,
                    self._deaf_poll,
                    exc_info=True,
                )
                self._observer.listening(lane, False)
            return
        self._deaf.discard(lane)
        self._listening.add(lane)
        logger.info("outbox relay listens for lane %s on %s", lane, channel)
        self._observer.listening(lane, True)

    def _notified(self, conn: object, pid: int, channel: str, payload: object) -> None:
        """A commit notified `payload` (a lane); one this relay does not know wakes them all."""
        lane = self._wake.get(str(payload))
        for wake in (lane,) if lane is not None else tuple(self._wake.values()):
            wake.set()

    def _lost(self, lane: str, conn: object) -> None:
        """The connection leading `lane` closed: wake the lane to lead it again now."""
        if self._leading.get(lane, conn) is not conn:
            return  # an older connection's, the lane already leads on a new one
        if lane in self._listening:
            self._listening.discard(lane)
            logger.warning("outbox relay lost its connection on lane %s; leading it again", lane)
            self._observer.listening(lane, False)
        self._wake[lane].set()

    async def resign(self, lane: str) -> None:
        """Give up leading `lane` (another relay may take it at its next poll)."""
        conn = self._leading.pop(lane, None)
        if conn is None:
            return
        self._deaf.discard(lane)
        listened = lane in self._listening
        if listened:
            self._listening.discard(lane)
            self._observer.listening(lane, False)
        try:
            if _alive(conn):
                conn.remove_termination_listener(self._on_lost[lane])
                if listened and self._table.channel:
                    await conn.remove_listener(self._table.channel, self._notified)
                if self._table.relay_setting:
                    await conn.execute(
                        "SELECT set_config($1, '', false)", self._table.relay_setting
                    )
                await conn.execute("SELECT pg_advisory_unlock($1)", self._lanes[lane].lock_key)
        except Exception:  # a broken connection: PostgreSQL released the lock with it
            logger.warning("outbox relay left lane %s without unlocking", lane, exc_info=True)
        finally:
            await self._pool.release(conn)  # nothing to do for a lost connection

    async def drain_once(self, lane: str) -> int:
        """Publish one batch of `lane`, then delete or mark it; 0 if empty or another relay
        leads. Rows are written off only once Kafka acknowledged every one of them: a failure
        leaves them to be published again (same event ids), so nothing is lost."""
        conn = await self._lead(lane)
        if conn is None:
            return 0
        try:
            args: list[Any] = [self._batch]
            if self._table.lane_column:
                args.append(lane)
            rows = await conn.fetch(self._select, *args)
            if not rows:
                self._observer.idle(lane)
                return 0
            records = [
                OutboxRecord(
                    id=row["id"],
                    topic=row["topic"],
                    key=bytes(row["key"]),
                    value=bytes(row["value"]),
                    headers=json.loads(row["headers"]),
                    age_seconds=max(float(row["age"]), 0.0),
                )
                for row in rows
            ]
            await self._publish(self._lanes[lane].publisher, records)
            await conn.execute(self._done, [record.id for record in records])
        except Exception:
            if not _alive(conn):
                await self.resign(lane)  # whoever holds the lock next publishes these again
            raise
        self._observer.published(lane, records)
        return len(records)

    @staticmethod
    async def _publish(publisher: KafkaBroker, records: list[OutboxRecord]) -> None:
        """Send in id order (one student's events stay in order on their partition), then
        await the acknowledgements together."""
        pending = []
        held = TimeSlice()
        for record in records:
            if held.over():
                await asyncio.sleep(0)  # let a request's handler run between slices
                held.renew()
            pending.append(
                await publisher.publish(
                    record.value,
                    record.topic,
                    key=record.key,
                    headers=record.headers,
                    no_confirm=True,
                )
            )
        await asyncio.gather(*pending)

    async def purge_published(self, older_than: timedelta) -> int:
        """Delete rows published more than `older_than` ago (tables that keep them); returns
        how many. Kafka holds those events from then on."""
        if not self._table.keep_published:
            return 0
        async with self._pool.acquire() as conn, conn.transaction():
            if self._table.relay_setting:
                await conn.execute("SELECT set_config($1, 'on', true)", self._table.relay_setting)
            status = await conn.execute(
                f"DELETE FROM {self._table.name} WHERE published_at < now() - $1::interval",  # noqa: S608
                older_than,
            )
        return int(status.rsplit(" ", 1)[1])


def _alive(conn: PoolConnectionProxy) -> bool:
    """False once the connection is gone (asyncpg then detaches its pool proxy)."""
    try:
        return not conn.is_closed()
    except asyncpg.InterfaceError:
        return False
