"""The outbox relay on real PostgreSQL and Kafka, on a table of this test's own: rows reach the
topic in id order with their key and headers, and go (or are marked, and purged later); one
relay leads a lane at a time; lanes are drained apart; a commit anywhere wakes the leader."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import timedelta
from typing import ClassVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faststream.kafka import KafkaBroker
from shouwang_contracts.envelope import Envelope, Payload
from shouwang_servicekit.kafka.clients import KafkaClients
from shouwang_servicekit.outbox import (
    OutboxLane,
    OutboxRecord,
    OutboxRelay,
    RelayObserver,
)
from shouwang_servicekit.outbox_table import OutboxTable

pytestmark = pytest.mark.integration

_TABLE = """
CREATE SCHEMA relaytest;
CREATE TABLE relaytest.{name} (
    id          bigserial   PRIMARY KEY,
    lane        text        NOT NULL DEFAULT 'one',
    topic       text        NOT NULL,
    key         bytea       NOT NULL,
    body        bytea       NOT NULL,
    headers     jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
-- As the services' migrations do: a commit of rows notifies their lanes.
CREATE FUNCTION relaytest.notify_lanes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('relaytest_outbox', lane) FROM (SELECT DISTINCT lane FROM added) lanes;
    RETURN NULL;
END;
$$;
CREATE TRIGGER notify_lanes AFTER INSERT ON relaytest.{name}
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION relaytest.notify_lanes();
"""
# A poll far longer than any wait of the tests that rely on notifications.
SLOW_POLL_SECONDS = 60.0
WELL_BEFORE_THE_POLL = 20.0


@pytest.fixture
async def pool(postgres_admin_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a database of this test's own, holding `relaytest.deleted` and `.kept`."""
    database = f"relaytest_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(postgres_admin_dsn)
    await admin.execute(f'CREATE DATABASE "{database}"')
    parts = urlsplit(postgres_admin_dsn)
    dsn = urlunsplit(parts._replace(path=f"/{database}"))
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
    try:
        await pool.execute(_TABLE.format(name="deleted"))
        await pool.execute("CREATE TABLE relaytest.kept (LIKE relaytest.deleted INCLUDING ALL)")
        yield pool
    finally:
        await pool.close()
        await admin.execute(f'DROP DATABASE "{database}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def topic(kafka_bootstrap: str) -> AsyncIterator[str]:
    name = f"shouwang.test.relay-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])
        yield name
    finally:
        await admin.close()


@pytest.fixture
async def broker(kafka_bootstrap: str) -> AsyncIterator[KafkaBroker]:
    broker = KafkaClients(kafka_bootstrap, client_id="shouwang-kit-test").broker(linger_ms=1)
    await broker.start()
    yield broker
    await broker.stop()


async def add(pool: asyncpg.Pool, table: str, topic: str, lane: str, *bodies: bytes) -> None:
    await pool.executemany(
        f"INSERT INTO relaytest.{table} (lane, topic, key, body, headers)"  # noqa: S608
        " VALUES ($1, $2, $3, $4, $5)",
        [
            (lane, topic, b"campus:student", body, json.dumps({"ce_type": "t", "n": str(i)}))
            for i, body in enumerate(bodies)
        ],
    )


async def read(
    bootstrap: str, topic: str, count: int, *, within: float = 60
) -> list[tuple[bytes, bytes, dict[str, str]]]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    found: list[tuple[bytes, bytes, dict[str, str]]] = []
    try:
        async with asyncio.timeout(within):
            while len(found) < count:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    found.extend(
                        (r.key, r.value, {k: v.decode() for k, v in r.headers}) for r in records
                    )
    finally:
        await consumer.stop()
    return found


class Reports(RelayObserver):
    def __init__(self) -> None:
        self.published_ids: list[int] = []
        self.idle_lanes: list[str] = []
        self.heard: list[bool] = []

    def published(self, lane: str, records: Sequence[OutboxRecord]) -> None:
        assert all(r.age_seconds >= 0 for r in records)
        self.published_ids.extend(r.id for r in records)

    def idle(self, lane: str) -> None:
        self.idle_lanes.append(lane)

    def listening(self, lane: str, listening: bool) -> None:
        self.heard.append(listening)


async def test_rows_are_published_in_order_then_deleted_and_lanes_drain_apart(
    pool: asyncpg.Pool, broker: KafkaBroker, topic: str, kafka_bootstrap: str
) -> None:
    table = OutboxTable(
        schema="relaytest", table="deleted", value_column="body", lane_column="lane"
    )
    lanes = {"one": OutboxLane(broker, 0x6B69_0001), "two": OutboxLane(broker, 0x6B69_0002)}
    reports = Reports()
    relay = OutboxRelay(pool, table, lanes, batch=2, poll_seconds=0.1, observer=reports)
    await add(pool, "deleted", topic, "one", b"a", b"b", b"c")
    await add(pool, "deleted", topic, "two", b"z")
    try:
        assert await relay.drain_once("one") == 2  # a batch at most
        assert await relay.drain_once("one") == 1
        assert await relay.drain_once("one") == 0
        assert reports.idle_lanes == ["one"]
        assert await pool.fetchval("SELECT array_agg(lane) FROM relaytest.deleted") == ["two"]
    finally:
        await relay.resign("one")
    published = await read(kafka_bootstrap, topic, 3)
    assert [value for _, value, _ in published] == [b"a", b"b", b"c"]
    assert {key for key, _, _ in published} == {b"campus:student"}
    # The row's headers travel (FastStream adds its own beside them).
    assert [(h["ce_type"], h["n"]) for _, _, h in published] == [("t", "0"), ("t", "1"), ("t", "2")]
    assert reports.published_ids == sorted(reports.published_ids)


async def test_one_relay_leads_a_lane_until_it_resigns(
    pool: asyncpg.Pool, broker: KafkaBroker, topic: str
) -> None:
    table = OutboxTable(schema="relaytest", table="deleted", value_column="body")
    first, second = (
        OutboxRelay(pool, table, {"one": OutboxLane(broker, 0x6B69_0003)}, batch=10, poll_seconds=1)
        for _ in range(2)
    )
    await add(pool, "deleted", topic, "one", b"a")
    try:
        assert await first.drain_once("one") == 1
        await add(pool, "deleted", topic, "one", b"b")
        assert await second.drain_once("one") == 0  # the first leads
        await first.resign("one")
        assert await second.drain_once("one") == 1  # and then the second
    finally:
        for relay in (first, second):
            await relay.resign("one")


async def test_a_running_relay_publishes_what_it_is_woken_for_and_stops_cleanly(
    pool: asyncpg.Pool, broker: KafkaBroker, topic: str, kafka_bootstrap: str
) -> None:
    table = OutboxTable(schema="relaytest", table="deleted", value_column="body")
    # A poll far longer than the test: only the wake makes it publish.
    relay = OutboxRelay(
        pool, table, {"one": OutboxLane(broker, 0x6B69_0004)}, batch=10, poll_seconds=3600
    )
    running = asyncio.create_task(relay.run())
    try:
        await asyncio.sleep(0.5)  # its first, empty, drain
        await add(pool, "deleted", topic, "one", b"woken")
        relay.wake("one")
        assert [value for _, value, _ in await read(kafka_bootstrap, topic, 1)] == [b"woken"]
        async with asyncio.timeout(60):  # published, then deleted
            while True:
                if not await pool.fetchval("SELECT count(*) FROM relaytest.deleted"):
                    break
                await asyncio.sleep(0.05)
    finally:
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
    # It gave the lane up: another relay leads at once.
    other = OutboxRelay(
        pool, table, {"one": OutboxLane(broker, 0x6B69_0004)}, batch=10, poll_seconds=1
    )
    await add(pool, "deleted", topic, "one", b"next")
    try:
        assert await other.drain_once("one") == 1
    finally:
        await other.resign("one")


async def test_a_table_that_keeps_published_rows_marks_them_and_purges_them_later(
    pool: asyncpg.Pool, broker: KafkaBroker, topic: str
) -> None:
    table = OutboxTable(schema="relaytest", table="kept", value_column="body", keep_published=True)
    relay = OutboxRelay(
        pool, table, {"one": OutboxLane(broker, 0x6B69_0005)}, batch=10, poll_seconds=1
    )
    await add(pool, "kept", topic, "one", b"a", b"b")
    try:
        assert await relay.drain_once("one") == 2
        assert await relay.drain_once("one") == 0  # marked: not published again
    finally:
        await relay.resign("one")
    assert (
        await pool.fetchval("SELECT count(*) FROM relaytest.kept WHERE published_at IS NOT NULL")
        == 2
    )
    assert await relay.purge_published(timedelta(days=7)) == 0  # too recent
    await pool.execute("UPDATE relaytest.kept SET published_at = now() - interval '8 days'")
    assert await relay.purge_published(timedelta(days=7)) == 2
    assert await pool.fetchval("SELECT count(*) FROM relaytest.kept") == 0


class _Ping(Payload):
    EVENT_TYPE: ClassVar[str] = "shouwang.test.ping"
    TOPIC: ClassVar[str] = "shouwang.test.ping"

    n: int


async def test_enqueued_events_are_written_once_with_their_campus_or_lane(
    pool: asyncpg.Pool,
) -> None:
    await pool.execute(
        "CREATE TABLE relaytest.tagged (LIKE relaytest.deleted INCLUDING ALL,"
        " campus_id text, event_id text NOT NULL UNIQUE)"
    )
    by_campus = OutboxTable(
        schema="relaytest", table="tagged", value_column="body", campus_column="campus_id"
    )
    by_lane = OutboxTable(
        schema="relaytest", table="tagged", value_column="body", lane_column="lane"
    )
    first, second = (
        Envelope.wrap(_Ping(n=n), source="/test", campus_id="north", subject="s1") for n in (1, 2)
    )
    async with pool.acquire() as conn:
        await by_campus.enqueue(conn, [first, second])
        await by_campus.enqueue(conn, [first])  # a retried handler: no second row
        with pytest.raises(ValueError, match="lane"):
            await by_lane.enqueue(conn, [first])
        await by_lane.enqueue(conn, [first, second], lane="two")  # the same ids: no-ops
    rows = await pool.fetch("SELECT * FROM relaytest.tagged ORDER BY id")
    assert [(r["event_id"], r["campus_id"], r["lane"]) for r in rows] == [
        (first.id, "north", "one"),
        (second.id, "north", "one"),
    ]
    assert rows[0]["body"] == first.to_bytes()
    assert rows[0]["key"] == first.key
    assert json.loads(rows[0]["headers"]) == first.headers()
    assert rows[0]["topic"] == first.topic


async def until(condition: Callable[[], bool], *, within: float = WELL_BEFORE_THE_POLL) -> None:
    async with asyncio.timeout(within):
        while True:
            if condition():
                return
            await asyncio.sleep(0.02)


async def test_a_row_committed_on_another_connection_wakes_the_leader_long_before_its_poll(
    pool: asyncpg.Pool, broker: KafkaBroker, topic: str, kafka_bootstrap: str
) -> None:
    table = OutboxTable(
        schema="relaytest", table="deleted", value_column="body", channel="relaytest_outbox"
    )
    leader, replica = (
        OutboxRelay(
            pool,
            table,
            {"one": OutboxLane(broker, 0x6B69_0006)},
            batch=10,
            poll_seconds=SLOW_POLL_SECONDS,
        )
        for _ in range(2)
    )
    running = [asyncio.create_task(leader.run())]
    try:
        await until(lambda: leader.listens("one"))
        running.append(asyncio.create_task(replica.run()))  # a second replica, following
        # Another replica's (or a request's) commit, on a connection of its own.
        async with pool.acquire() as writer, writer.transaction():
            await writer.execute(
                "INSERT INTO relaytest.deleted (lane, topic, key, body, headers)"
                " VALUES ('one', $1, 'k', 'elsewhere', '{}')",
                topic,
            )
        published = await read(kafka_bootstrap, topic, 1, within=WELL_BEFORE_THE_POLL)
        assert [value for _, value, _ in published] == [b"elsewhere"]
        assert not replica.listens("one")  # only the leader listens
    finally:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)


async def test_a_relay_whose_connection_is_terminated_leads_and_listens_again(
    pool: asyncpg.Pool, broker: KafkaBroker, topic: str, kafka_bootstrap: str
) -> None:
    table = OutboxTable(
        schema="relaytest", table="deleted", value_column="body", channel="relaytest_outbox"
    )
    reports = Reports()
    relay = OutboxRelay(
        pool,
        table,
        {"one": OutboxLane(broker, 0x6B69_0007)},
        batch=10,
        poll_seconds=SLOW_POLL_SECONDS,
        observer=reports,
    )
    running = asyncio.create_task(relay.run())
    try:
        await until(lambda: relay.listens("one"))
        terminated = await pool.fetchval(
            "SELECT pg_terminate_backend(pid) FROM pg_locks"
            " WHERE locktype = 'advisory' AND objid = $1 AND granted",
            0x6B69_0007,
        )
        assert terminated
        await add(pool, "deleted", topic, "one", b"after")
        await read(kafka_bootstrap, topic, 1, within=WELL_BEFORE_THE_POLL)
        await until(lambda: relay.listens("one"))
        await add(pool, "deleted", topic, "one", b"listening again")
        published = await read(kafka_bootstrap, topic, 2, within=WELL_BEFORE_THE_POLL)
        assert [value for _, value, _ in published] == [b"after", b"listening again"]
        assert reports.heard[:3] == [True, False, True]  # and the metrics were told
    finally:
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
    assert reports.heard[-1] is False  # it stopped listening when it resigned
