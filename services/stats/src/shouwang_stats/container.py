"""Stats' parts, as `bootstrap()` assembles them: what its handlers, consumers and chores use."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

import asyncpg
from faststream.kafka import KafkaBroker
from shouwang_servicekit.ops import ReadinessCheck

from .adapters.replay import TopicLog
from .config import StatsSettings


@dataclass
class Stats:
    """A started stats. `broker` runs the consumers and publishes dead letters; `log` replays
    the topics for a rebuild; `writer` keeps the cells a year hides (`reading`); `resources`
    closes what bootstrap started, newest first."""

    settings: StatsSettings
    pool: asyncpg.Pool
    broker: KafkaBroker
    log: TopicLog
    writer: asyncpg.Pool | None = None
    resources: AsyncExitStack = field(default_factory=AsyncExitStack)

    async def ping_kafka(self) -> bool:
        return await self.broker.ping(timeout=1.5)

    async def ping_database(self) -> bool:
        async with self.pool.acquire() as conn:
            return bool(await conn.fetchval("SELECT 1"))

    def readiness(self) -> Mapping[str, ReadinessCheck]:
        return {"kafka": self.ping_kafka, "database": self.ping_database}

    async def close(self) -> None:
        await self.resources.aclose()
