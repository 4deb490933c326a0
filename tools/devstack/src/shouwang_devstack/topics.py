"""Create every topic declared in `shouwang_contracts.topics` (dead-letter twins included)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError
from shouwang_contracts.topics import TopicSpec, all_topics

from ._proc import DevstackError

_TOPIC_ALREADY_EXISTS = 36


@dataclass(frozen=True, slots=True)
class TopicResult:
    """What happened to one topic: `created` or `exists`."""

    name: str
    outcome: str
    replication_factor: int


def fit_to_cluster(spec: TopicSpec, brokers: int) -> NewTopic:
    """The NewTopic for `spec`, replication (and min.insync.replicas) capped to the broker count."""
    replication = max(1, min(spec.replication_factor, brokers))
    configs = dict(spec.configs)
    if "min.insync.replicas" in configs:
        configs["min.insync.replicas"] = str(
            max(1, min(int(configs["min.insync.replicas"]), replication))
        )
    return NewTopic(
        name=spec.name,
        num_partitions=spec.partitions,
        replication_factor=replication,
        topic_configs=configs,
    )


async def _admin(bootstrap: str, within: float) -> AIOKafkaAdminClient:
    deadline = time.monotonic() + within
    last: Exception | None = None
    while time.monotonic() < deadline:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
        try:
            await admin.start()
            return admin
        except (KafkaConnectionError, KafkaError, OSError) as exc:
            last = exc
            await admin.close()
            await asyncio.sleep(0.5)
    raise DevstackError(f"cannot reach Kafka at {bootstrap} within {within:.0f}s: {last!r}")


async def create_topics(
    bootstrap: str,
    specs: list[TopicSpec] | None = None,
    *,
    within: float = 60.0,
) -> list[TopicResult]:
    """Create the topics (all declared ones by default); topics that already exist are fine."""
    specs = list(specs if specs is not None else all_topics())
    admin = await _admin(bootstrap, within)
    try:
        cluster = await admin.describe_cluster()
        brokers = max(1, len(cluster.get("brokers", [])))
        wanted = [fit_to_cluster(spec, brokers) for spec in specs]
        response = await admin.create_topics(wanted, timeout_ms=int(within * 1000))
        results: list[TopicResult] = []
        failures: list[str] = []
        by_name = {t.name: t for t in wanted}
        for error in response.topic_errors:
            name, code = error[0], error[1]
            message = error[2] if len(error) > 2 else ""
            rf = by_name[name].replication_factor
            if code == 0:
                results.append(TopicResult(name, "created", rf))
            elif code == _TOPIC_ALREADY_EXISTS:
                results.append(TopicResult(name, "exists", rf))
            else:
                failures.append(f"{name}: error {code} {message or ''}".strip())
        if failures:
            raise DevstackError("creating topics failed:\n" + "\n".join(failures))
        return results
    finally:
        await admin.close()


def create_topics_sync(bootstrap: str, specs: list[TopicSpec] | None = None) -> list[TopicResult]:
    """`create_topics` for synchronous callers (the CLI)."""
    return asyncio.run(create_topics(bootstrap, specs))


def declared_partitions(topic: str) -> list[TopicPartition]:
    """Every partition of `topic` as topics.yaml declares it: a client's metadata is still
    empty right after it starts."""
    spec = next((t for t in all_topics() if t.name == topic), None)
    if spec is None:
        raise DevstackError(f"{topic} is not declared in topics.yaml")
    return [TopicPartition(topic, number) for number in range(spec.partitions)]


async def assign_at_end(consumer: AIOKafkaConsumer, *topics: str) -> dict[TopicPartition, int]:
    """Assign every partition of `topics` to a started consumer and place it at their current
    end, resolved now: nothing published afterwards can fall before it. Returns those ends."""
    partitions = [tp for topic in topics for tp in declared_partitions(topic)]
    consumer.assign(partitions)
    ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
    for tp, offset in ends.items():
        consumer.seek(tp, offset)
    return ends


async def start_groups_at_end(bootstrap: str, groups: dict[str, str]) -> None:
    """Commit the current end of each topic for its consumer group (`{group: topic}`).

    Shouwang's consumer groups start from the earliest offset, rightly for a first deployment.
    On a test session's shared broker a test's group would first work through everything
    earlier modules published; a test that cares only about its own records starts here.
    """
    for group, topic in groups.items():
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
        )
        await consumer.start()
        try:
            await consumer.commit(await assign_at_end(consumer, topic))
        finally:
            await consumer.stop()


async def committed_offsets(bootstrap: str, group: str) -> dict[TopicPartition, int]:
    """The offsets `group` has committed, per partition (none for a group never seen)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp: meta.offset for tp, meta in offsets.items()}
