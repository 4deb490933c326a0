"""The outbox relay on real PostgreSQL and Kafka: one leader per lane, and a successor."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faststream.kafka import KafkaBroker
from shouwang_triage.adapters.outbox import outbox_relay
from shouwang_triage.adapters.repository import QuietConnection


@pytest.fixture
async def topic(kafka_bootstrap: str) -> AsyncIterator[str]:
    """A topic of this test's own: nothing else in the session consumes what it receives."""
    name = f"shouwang.test.relay-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])
        yield name
    finally:
        await admin.close()


async def _add(pool: asyncpg.Pool, topic: str, count: int) -> None:
    await pool.executemany(
        "INSERT INTO outbox (lane, event_id, topic, key, value, headers)"
        " VALUES ('urgent', $1, $2, $3, $4, $5)",
        [
            (str(uuid.uuid4()), topic, b"demo:relay", b"{}", json.dumps({"ce_id": "x"}))
            for _ in range(count)
        ],
    )


async def _pending(pool: asyncpg.Pool, lane: str = "urgent") -> int:
    return int(await pool.fetchval("SELECT count(*) FROM outbox WHERE lane = $1", lane))


async def _until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(20):
        while True:
            if condition():
                return
            await asyncio.sleep(0.02)


async def test_one_relay_leads_a_lane_until_its_connection_goes(
    service_database, kafka_bootstrap: str, topic: str
) -> None:
    dsn = await service_database("triage")
    pools = [
        await asyncpg.create_pool(dsn, min_size=1, max_size=3, connection_class=QuietConnection)
        for _ in range(2)
    ]
    broker = KafkaBroker(kafka_bootstrap, acks="all", enable_idempotence=True, logger=None)
    await broker.start()
    first, second = (
        outbox_relay(pool, {"urgent": broker, "bulk": broker}, batch=100, poll_seconds=0.1)
        for pool in pools
    )
    try:
        await _add(pools[0], topic, 3)
        assert await first.drain_once("urgent") == 3
        assert await _pending(pools[0]) == 0

        # While the first leads, the second publishes nothing, even with rows waiting.
        await _add(pools[0], topic, 2)
        assert await second.drain_once("urgent") == 0
        assert await _pending(pools[0]) == 2

        # The leader's connection dies (a crashed replica): PostgreSQL frees the lock and
        # the second relay takes the lane over and publishes what was left.
        leader_pid = await pools[0].fetchval(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        # With a timeout, pg_terminate_backend waits until the backend has exited (and its
        # locks are gone); without one it only signals, and the takeover below could race it.
        assert await pools[1].fetchval("SELECT pg_terminate_backend($1, 10000)", leader_pid)
        assert await second.drain_once("urgent") == 2
        assert await _pending(pools[0]) == 0

        # The first one finds its connection gone and no longer leads.
        await _add(pools[0], topic, 1)
        assert await first.drain_once("urgent") == 0
        assert await _pending(pools[0]) == 1
        assert await second.drain_once("urgent") == 1
    finally:
        for relay in (first, second):
            await relay.resign("urgent")
        await broker.stop()
        for pool in pools:
            await pool.close()


async def test_a_commit_on_another_replica_wakes_the_leader_of_its_lane(
    service_database, kafka_bootstrap: str, topic: str
) -> None:
    """The trigger notifies the lanes a statement added (the payload): each lane's leader
    publishes what another replica committed at once, the census lane as the urgent one."""
    dsn = await service_database("triage")
    pools = [
        await asyncpg.create_pool(dsn, min_size=1, max_size=3, connection_class=QuietConnection)
        for _ in range(2)
    ]
    broker = KafkaBroker(kafka_bootstrap, acks="all", enable_idempotence=True, logger=None)
    await broker.start()
    # A poll of a minute: only the notification can publish within the waits below.
    relay = outbox_relay(pools[0], {"urgent": broker, "bulk": broker}, batch=100, poll_seconds=60)
    running = asyncio.create_task(relay.run())
    try:
        await _until(lambda: relay.listens("urgent") and relay.listens("bulk"))
        for lane in ("bulk", "urgent"):  # written through the other replica's pool
            await pools[1].execute(
                "INSERT INTO outbox (lane, event_id, topic, key, value, headers)"
                " VALUES ($1, $2, $3, 'k', 'v', '{}')",
                lane,
                str(uuid.uuid4()),
                topic,
            )
            async with asyncio.timeout(20):
                while True:
                    if not await _pending(pools[1], lane):
                        break
                    await asyncio.sleep(0.02)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await broker.stop()
        for pool in pools:
            await pool.close()
