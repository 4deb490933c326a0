"""What the kit's Kafka tests set up the same way: a topic of their own with its dead-letter
twin, and waiting for what a consumer does."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic


async def topic_with_dead_letters(bootstrap: str, prefix: str, partitions: int) -> str:
    """A new topic `shouwang.test.<prefix>-<random>` of `partitions` partitions and its
    one-partition `.dlq` twin; returns its name."""
    name = f"shouwang.test.{prefix}-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(name, num_partitions=partitions, replication_factor=1),
                NewTopic(name + ".dlq", num_partitions=1, replication_factor=1),
            ]
        )
    finally:
        await admin.close()
    return name


async def until(condition: Callable[[], bool], within: float = 60.0) -> None:
    """Poll `condition` until it holds (generous: the machine may be busy)."""
    async with asyncio.timeout(within):
        while True:
            if condition():
                return
            await asyncio.sleep(0.05)
