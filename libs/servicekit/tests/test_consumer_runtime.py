"""The consumer runtime against a real Kafka broker: a transient failure is retried, a poison
record reaches the dead-letter topic with its reason, and the consumer goes on; offsets are
committed once the records are handled; a failed batch is handled again record by record."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from prometheus_client import CollectorRegistry
from shouwang_contracts.kafka import (
    DLQ_CONSUMER,
    DLQ_OFFSET,
    DLQ_PARTITION,
    DLQ_REASON,
    DLQ_SOURCE_TOPIC,
    PoisonEvent,
)
from shouwang_contracts.topics import dead_letter_topic
from shouwang_devstack.topics import committed_offsets
from shouwang_servicekit.kafka.clients import KafkaClients
from shouwang_servicekit.kafka.consumers import (
    ConsumerObserver,
    Record,
    Retry,
    subscribe,
    subscribe_batch,
)
from shouwang_servicekit.kafka.progress import ConsumerProgress

from .kafka_scenes import topic_with_dead_letters, until

pytestmark = pytest.mark.integration

FAST = Retry(first_pause=0.05, longest_pause=0.2, attempts=2)


@pytest.fixture
async def topic(kafka_bootstrap: str) -> str:
    """A topic of this test's own (one partition, so order is the test's) and its dead-letter
    twin."""
    return await topic_with_dead_letters(kafka_bootstrap, "runtime", partitions=1)


@dataclass
class Seen(ConsumerObserver):
    """What the consumer reported."""

    outcomes: list[tuple[bytes, str]] = field(default_factory=list)
    assigned_partitions: list[TopicPartition] = field(default_factory=list)

    def assigned(self, group: str, partitions: set[TopicPartition]) -> None:
        self.assigned_partitions.extend(partitions)

    def handled(self, record: Record, outcome: str) -> None:
        self.outcomes.append((record.value, outcome))


async def produce(bootstrap: str, topic: str, *values: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, key=b"k")
    finally:
        await producer.stop()


async def committed(bootstrap: str, group: str, topic: str) -> int | None:
    return (await committed_offsets(bootstrap, group)).get(TopicPartition(topic, 0))


async def dead_letters(bootstrap: str, topic: str, count: int) -> list[Any]:
    consumer = AIOKafkaConsumer(
        dead_letter_topic(topic), bootstrap_servers=bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    found: list[Any] = []
    try:
        async with asyncio.timeout(60):
            while len(found) < count:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    found.extend(records)
    finally:
        await consumer.stop()
    return found


async def test_a_transient_failure_is_retried_and_a_poison_record_dead_lettered(
    kafka_bootstrap: str, topic: str
) -> None:
    clients = KafkaClients(kafka_bootstrap, client_id="shouwang-kit-test")
    broker = clients.broker(linger_ms=1)
    group = f"kit-test-{uuid.uuid4().hex[:8]}"
    attempts: dict[bytes, int] = {}
    applied: list[bytes] = []
    seen = Seen()

    async def handle(record: Record) -> str:
        value: bytes = record.value
        attempts[value] = attempts.get(value, 0) + 1
        if value == b"database-away" and attempts[value] == 1:
            raise ConnectionRefusedError("the database is restarting")
        if value == b"poison":
            raise PoisonEvent("not a valid shouwang.test.event: data.x: Field required")
        if value == b"bug":
            raise ValueError("a handler that cannot handle this record")
        applied.append(value)
        return "applied"

    subscribe(broker, topic, group_id=group, handle=handle, retry=FAST, observer=seen)
    await broker.start()
    try:
        await produce(kafka_bootstrap, topic, b"one", b"database-away", b"poison", b"bug", b"two")
        await until(lambda: b"two" in applied)
        # Every record handled or dead-lettered is committed: a restart starts after them.
        async with asyncio.timeout(60):
            while True:
                if await committed(kafka_bootstrap, group, topic) == 5:
                    break
                await asyncio.sleep(0.1)
    finally:
        await broker.stop()

    # Order kept; the transient failure retried until it went through; the consumer went on
    # past the poison record and past the one that failed every attempt.
    assert applied == [b"one", b"database-away", b"two"]
    assert attempts == {b"one": 1, b"database-away": 2, b"poison": 1, b"bug": 2, b"two": 1}
    assert seen.outcomes == [
        (b"one", "applied"),
        (b"database-away", "retried"),
        (b"database-away", "applied"),
        (b"poison", "dead_lettered"),
        (b"bug", "retried"),
        (b"bug", "dead_lettered"),
        (b"two", "applied"),
    ]
    assert seen.assigned_partitions == [TopicPartition(topic, 0)]

    poison, bug = await dead_letters(kafka_bootstrap, topic, 2)
    headers = {name: value.decode() for name, value in poison.headers}
    assert poison.value == b"poison"
    assert poison.key == b"k"
    assert headers[DLQ_REASON] == "not a valid shouwang.test.event: data.x: Field required"
    assert headers[DLQ_SOURCE_TOPIC] == topic
    assert (headers[DLQ_PARTITION], headers[DLQ_OFFSET]) == ("0", "2")
    assert headers[DLQ_CONSUMER] == group
    # A failure that is the handler's own names its type, never its text (personal data).
    assert dict(bug.headers)[DLQ_REASON] == b"processing failed (2x): ValueError"


async def test_a_failed_batch_is_handled_again_record_by_record(
    kafka_bootstrap: str, topic: str
) -> None:
    broker = KafkaClients(kafka_bootstrap, client_id="shouwang-kit-test").broker(linger_ms=1)
    group = f"kit-test-{uuid.uuid4().hex[:8]}"
    batches: list[list[str]] = []
    seen = Seen()
    committed: list[str] = []

    def decode(record: Record) -> str:
        if record.value == b"not-json":
            raise PoisonEvent("not a JSON event")
        return str(record.value.decode())

    async def handle(items: list[str]) -> list[str]:
        batches.append(items)
        if "cannot" in items:
            raise RuntimeError("one of these cannot be handled")
        committed.extend(items)
        return ["duplicate" if item == "b" else "applied" for item in items]

    subscribe_batch(
        broker,
        topic,
        group_id=group,
        decode=decode,
        handle=handle,
        max_records=100,
        poll_ms=20,
        retry=Retry(first_pause=0.05, longest_pause=0.2, attempts=1),
        observer=seen,
    )
    # Published before the consumer starts, so they arrive as one batch.
    await produce(kafka_bootstrap, topic, b"a", b"not-json", b"b", b"cannot", b"c")
    await broker.start()
    try:
        await until(lambda: "c" in committed)
    finally:
        await broker.stop()

    assert batches[0] == ["a", "b", "cannot", "c"]  # decoded together, the poison left out
    assert batches[1:] == [["a"], ["b"], ["cannot"], ["c"]]
    assert committed == ["a", "b", "c"]
    # The handler's outcome of each record reaches the observer (the metrics), in order.
    assert [o for o in seen.outcomes if o[1] != "retried"] == [
        (b"not-json", "dead_lettered"),
        (b"a", "applied"),
        (b"b", "duplicate"),
        (b"cannot", "dead_lettered"),
        (b"c", "applied"),
    ]
    reasons = sorted(
        dict(r.headers)[DLQ_REASON] for r in await dead_letters(kafka_bootstrap, topic, 2)
    )
    assert reasons == [b"not a JSON event", b"processing failed (1x): RuntimeError"]


async def test_one_batch_consumer_of_two_topics_gets_both_in_one_batch_and_commits_both(
    kafka_bootstrap: str, topic: str
) -> None:
    # Casework reads assessments and alerts with one consumer so that their records about
    # the same students are applied together, not by two consumers taking turns on locks.
    other = f"{topic}-b"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(other, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    broker = KafkaClients(kafka_bootstrap, client_id="shouwang-kit-test").broker(linger_ms=1)
    group = f"kit-test-{uuid.uuid4().hex[:8]}"
    batches: list[list[tuple[str, str]]] = []
    registry = CollectorRegistry()
    progress = ConsumerProgress(registry)

    def decode(record: Record) -> tuple[str, str]:
        return record.topic, str(record.value.decode())

    async def handle(items: list[tuple[str, str]]) -> list[str]:
        batches.append(items)
        return ["applied"] * len(items)

    subscribe_batch(
        broker,
        (topic, other),
        group_id=group,
        decode=decode,
        handle=handle,
        max_records=100,
        poll_ms=20,
        progress=progress,
    )
    # Published before the consumer starts, so they arrive as one batch.
    await produce(kafka_bootstrap, topic, b"a1", b"a2")
    await produce(kafka_bootstrap, other, b"b1")
    await broker.start()
    try:
        async with asyncio.timeout(60):
            while True:
                offsets = await committed_offsets(kafka_bootstrap, group)
                if (
                    offsets.get(TopicPartition(topic, 0)) == 2
                    and offsets.get(TopicPartition(other, 0)) == 1
                ):
                    break
                await asyncio.sleep(0.1)
    finally:
        await broker.stop()

    assert sorted(item for batch in batches for item in batch) == [
        (topic, "a1"),
        (topic, "a2"),
        (other, "b1"),
    ]
    assert any({t for t, _ in batch} == {topic, other} for batch in batches)
    for name, count in ((topic, 2), (other, 1)):
        labels = {"group": group, "topic": name, "outcome": "applied"}
        assert registry.get_sample_value("shouwang_consumer_records_total", labels) == count
