"""Reading back what intake wrote, straight from Kafka (no service in between)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from shouwang_devstack.topics import assign_at_end


class TopicReader:
    """Remembers a topic's end offsets, then reads everything written after them."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self.start: dict[TopicPartition, int] = {}

    async def __aenter__(self) -> TopicReader:
        await self.consumer.start()
        self.start = await assign_at_end(self.consumer, self.topic)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()

    async def read(self, count: int, within: float = 20.0, settle: float = 0.0) -> list[Any]:
        """At least `count` records (then `settle` more seconds for extras), as ConsumerRecords."""
        records: list[Any] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        settle_until: float | None = None
        while loop.time() < deadline:
            if len(records) >= count:
                settle_until = settle_until or loop.time() + settle
                if loop.time() >= settle_until:
                    break
            batch = await self.consumer.getmany(timeout_ms=200, max_records=5000)
            for part in batch.values():
                records.extend(part)
        return records

    @staticmethod
    def value(record: Any) -> dict[str, Any]:
        return json.loads(record.value)  # type: ignore[no-any-return]
