"""Triage's parts, as `bootstrap()` assembles them: what its handlers, consumers and loops use."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from functools import cached_property
from zoneinfo import ZoneInfo

import asyncpg
from faststream.kafka import KafkaBroker
from shouwang_contracts.pseudonym import PlacementHasher
from shouwang_servicekit.ops import ReadinessCheck
from shouwang_servicekit.outbox import OutboxRelay

from .config import TriageSettings
from .domain.policy import GradingPolicy


@dataclass
class Triage:
    """A started triage. `broker` runs the consumers and publishes the urgent lane and dead
    letters; `resources` closes what bootstrap started, newest first."""

    settings: TriageSettings
    policy: GradingPolicy
    pool: asyncpg.Pool
    broker: KafkaBroker
    relay: OutboxRelay
    resources: AsyncExitStack = field(default_factory=AsyncExitStack)

    @cached_property
    def placement(self) -> PlacementHasher:
        """The directory's placement hashes, to check a reader's scope grants against."""
        return self.settings.placement_hasher()

    @property
    def zone(self) -> ZoneInfo:
        """The campus time zone: reasons date the earlier sheets they rest on in it."""
        return ZoneInfo(self.settings.timezone)

    async def ping_kafka(self) -> bool:
        return await self.broker.ping(timeout=1.5)

    async def ping_database(self) -> bool:
        async with self.pool.acquire() as conn:
            return bool(await conn.fetchval("SELECT 1"))

    def readiness(self) -> Mapping[str, ReadinessCheck]:
        return {"kafka": self.ping_kafka, "database": self.ping_database}

    async def close(self) -> None:
        await self.resources.aclose()
