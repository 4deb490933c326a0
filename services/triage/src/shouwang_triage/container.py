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
from shouwang_servicekit.resources import database_check, kafka_check

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

    def readiness(self) -> Mapping[str, ReadinessCheck]:
        return {"database": database_check(self.pool), "kafka": kafka_check(self.broker)}

    async def close(self) -> None:
        await self.resources.aclose()
