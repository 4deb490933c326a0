"""The latency bench times only its own reports, whatever the broker carried before."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from critical_latency import fresh_triage_groups
from shouwang_contracts.topics import REPORTS, TOPICS
from shouwang_devstack.topics import committed_offsets, declared_partitions
from shouwang_triage.config import TriageSettings


async def _publish_backlog(bootstrap: str, count: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for i in range(count):
            await producer.send(REPORTS, b"{}", key=b"demo:stu_backlog%d" % i)
        await producer.flush()
    finally:
        await producer.stop()


async def _ends(bootstrap: str, topic: str) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        ends: dict[TopicPartition, int] = await consumer.end_offsets(declared_partitions(topic))
    finally:
        await consumer.stop()
    return ends


def test_triages_groups_start_after_everything_published_before(kafka_bootstrap: str) -> None:
    """On a broker with history, triage's default groups would grade that backlog first, and
    the reports the bench times would wait behind it, or count as lost."""
    asyncio.run(_publish_backlog(kafka_bootstrap, 50))
    prefix = fresh_triage_groups(kafka_bootstrap)
    assert prefix != TriageSettings().group_prefix
    for name in TriageSettings(consumers="all").consumer_set:
        topic = TOPICS[name].name
        committed = asyncio.run(committed_offsets(kafka_bootstrap, f"{prefix}.{topic}"))
        assert committed == asyncio.run(_ends(kafka_bootstrap, topic)), topic
        if topic == REPORTS:
            assert sum(committed.values()) >= 50, "the backlog lies before the groups' start"
