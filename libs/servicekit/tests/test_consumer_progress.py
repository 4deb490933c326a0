"""Consumer lag measured from the brokers on a timer, against a real Kafka broker: a consumer
hung while records keep coming shows a growing lag over a committed offset that stands still;
a partition that moves to another consumer leaves no series behind; outcomes exist at 0 from
the subscription on."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client import CollectorRegistry
from shouwang_servicekit.kafka.clients import KafkaClients
from shouwang_servicekit.kafka.consumers import Record, subscribe
from shouwang_servicekit.kafka.progress import ConsumerProgress

from .kafka_scenes import topic_with_dead_letters

pytestmark = pytest.mark.integration


@pytest.fixture
async def topic(kafka_bootstrap: str) -> str:
    return await topic_with_dead_letters(kafka_bootstrap, "progress", partitions=2)


async def produce(bootstrap: str, topic: str, count: int, partition: int = 0) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for i in range(count):
            await producer.send_and_wait(topic, b"r%d" % i, partition=partition)
    finally:
        await producer.stop()


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


async def until(condition: Callable[[], Awaitable[bool]], within: float = 60.0) -> None:
    """Poll `condition` until it holds (generous: the machine may be busy)."""
    async with asyncio.timeout(within):
        while True:
            if await condition():
                return
            await asyncio.sleep(0.1)


async def test_a_hung_consumers_lag_grows_while_its_committed_offset_stands_still(
    kafka_bootstrap: str, topic: str
) -> None:
    registry = CollectorRegistry()
    progress = ConsumerProgress(registry)
    broker = KafkaClients(kafka_bootstrap, client_id="shouwang-kit-test").broker(linger_ms=1)
    group = f"kit-progress-{uuid.uuid4().hex[:8]}"
    stuck = asyncio.Event()
    handled: list[bytes] = []

    async def handle(record: Record) -> str:
        handled.append(record.value)
        if record.value == b"r3":
            await stuck.wait()  # hangs on the fourth record, as a wedged handler would
        return "applied"

    subscribe(broker, topic, group_id=group, handle=handle, progress=progress)
    labels = {"group": group, "topic": topic, "partition": "0"}
    assert sample(registry, "shouwang_consumer_records_total", group=group, topic=topic,
                  outcome="dead_lettered") == 0  # fmt: skip
    await broker.start()
    try:
        await produce(kafka_bootstrap, topic, 4)

        async def hung() -> bool:
            await progress.measure()
            return (
                b"r3" in handled
                and sample(registry, "shouwang_consumer_committed_offset", **labels) == 3
            )

        await until(hung)
        assert sample(registry, "shouwang_consumer_lag", **labels) == 1
        await produce(kafka_bootstrap, topic, 10)
        await progress.measure()
        # Ten more records behind, and the committed offset has not moved: stalled, not idle.
        assert sample(registry, "shouwang_consumer_lag", **labels) == 11
        assert sample(registry, "shouwang_consumer_committed_offset", **labels) == 3
        # The other partition, caught up (nothing on it), reads 0: idle is no lag.
        assert (
            sample(registry, "shouwang_consumer_lag", group=group, topic=topic, partition="1") == 0
        )
        stuck.set()

        async def caught_up() -> bool:
            await progress.measure()
            return sample(registry, "shouwang_consumer_lag", **labels) == 0

        await until(caught_up)
        assert sample(registry, "shouwang_consumer_committed_offset", **labels) == 14
    finally:
        stuck.set()
        await broker.stop()


async def test_a_partition_that_moves_to_another_consumer_leaves_no_series_behind(
    kafka_bootstrap: str, topic: str
) -> None:
    group = f"kit-progress-{uuid.uuid4().hex[:8]}"
    first_registry, second_registry = CollectorRegistry(), CollectorRegistry()
    first, second = ConsumerProgress(first_registry), ConsumerProgress(second_registry)
    clients = KafkaClients(kafka_bootstrap, client_id="shouwang-kit-test")
    brokers = [clients.broker(linger_ms=1), clients.broker(linger_ms=1)]

    async def handle(record: Record) -> str:
        return "applied"

    for broker, progress in zip(brokers, (first, second), strict=True):
        subscribe(broker, topic, group_id=group, handle=handle, progress=progress)
    await produce(kafka_bootstrap, topic, 3, partition=1)

    def series(registry: CollectorRegistry) -> set[str]:
        return {
            s.labels["partition"]
            for metric in registry.collect()
            if metric.name == "shouwang_consumer_lag"
            for s in metric.samples
        }

    await brokers[0].start()
    try:

        async def holds_both() -> bool:
            await first.measure()
            return series(first_registry) == {"0", "1"}

        await until(holds_both)
        # A second consumer joins the group: the partitions are shared out again.
        await brokers[1].start()

        async def shared() -> bool:
            await first.measure()
            await second.measure()
            mine, theirs = series(first_registry), series(second_registry)
            return len(mine) == 1 and len(theirs) == 1 and mine != theirs

        await until(shared)
        # Each reports only what it holds: no stale value for the partition that moved.
        assert series(first_registry) | series(second_registry) == {"0", "1"}
    finally:
        for broker in brokers:
            await broker.stop()
