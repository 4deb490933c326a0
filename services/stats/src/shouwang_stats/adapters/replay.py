"""Reading the topics from a given offset up to a given end, without a consumer group.

A rebuild reads everything the topics hold; its catch-up steps read what arrived since. No
offsets are committed: the live consumers' group is untouched by a rebuild.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from shouwang_servicekit.kafka.clients import KafkaClients

logger = logging.getLogger("shouwang.stats.replay")

Offsets = dict[TopicPartition, int]


class TopicLog:
    """The topics stats replays; one consumer per `read`. Picklable (a rebuild's worker
    processes each get a copy) as long as its `KafkaClients` is."""

    def __init__(self, clients: KafkaClients, topics: Sequence[str]) -> None:
        self.clients = clients
        self.topics = tuple(topics)

    def _consumer(self) -> AIOKafkaConsumer:
        return self.clients.consumer(
            name="replay",
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            # Large fetches: a rebuild wants throughput, and nothing else shares this client.
            fetch_max_bytes=64 * 1024 * 1024,
            max_partition_fetch_bytes=8 * 1024 * 1024,
        )

    async def partitions(self) -> list[TopicPartition]:
        """Every partition of the topics, as the cluster has them now."""
        admin = self.clients.admin(name="replay")
        await admin.start()
        try:
            described = await admin.describe_topics(list(self.topics))
        finally:
            await admin.close()
        found = []
        for topic in described:
            if topic["error_code"] or not topic["partitions"]:
                raise LookupError(f"topic {topic['topic']} cannot be read")
            found += [TopicPartition(topic["topic"], p["partition"]) for p in topic["partitions"]]
        return sorted(found)

    async def end_offsets(self) -> Offsets:
        """Where every partition ends now."""
        partitions = await self.partitions()
        consumer = self._consumer()
        await consumer.start()
        try:
            ends: Offsets = await consumer.end_offsets(partitions)
            return ends
        finally:
            await consumer.stop()

    async def read(
        self,
        end: Mapping[TopicPartition, int],
        start: Mapping[TopicPartition, int] | None = None,
        max_records: int = 10_000,
    ) -> AsyncIterator[list[Any]]:
        """Batches of records from `start` (default: the beginning) up to, not including, `end`."""
        consumer = self._consumer()
        await consumer.start()
        try:
            partitions = [tp for tp in end]
            consumer.assign(partitions)
            if start is None:
                await consumer.seek_to_beginning(*partitions)
            else:
                for tp in partitions:
                    consumer.seek(tp, start.get(tp, 0))
            pending = {tp for tp in partitions if await consumer.position(tp) < end[tp]}
            while pending:
                fetched = await consumer.getmany(*pending, timeout_ms=1000, max_records=max_records)
                batch: list[Any] = []
                for tp, records in fetched.items():
                    limit = end[tp]
                    batch.extend(r for r in records if r.offset < limit)
                if batch:
                    yield batch
                for tp in list(pending):
                    if await consumer.position(tp) >= end[tp]:
                        pending.discard(tp)
        finally:
            await consumer.stop()
