"""Casework's parts, as `bootstrap()` assembles them: what its handlers, consumers and chores use.

Entry points import this module, never `bootstrap` (which imports them).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

import asyncpg
from faststream.kafka import KafkaBroker
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.pseudonym import PlacementHasher, Pseudonymizer
from shouwang_servicekit.ops import ReadinessCheck
from shouwang_servicekit.outbox import OutboxRelay
from shouwang_servicekit.resources import database_check, kafka_check

from .config import CaseworkSettings


@dataclass
class Casework:
    """A started casework. `broker` runs the consumers and publishes the outbox and dead
    letters; `resources` closes what bootstrap started, newest first."""

    settings: CaseworkSettings
    pool: asyncpg.Pool
    broker: KafkaBroker
    cipher: NoteCipher
    pseudonymizer: Pseudonymizer
    placement: PlacementHasher  # the directory's placement hashes
    resources: AsyncExitStack = field(default_factory=AsyncExitStack)
    # The outbox relay, when this process runs it (commits wake it through PostgreSQL).
    relay: OutboxRelay | None = None

    def readiness(self) -> Mapping[str, ReadinessCheck]:
        return {"database": database_check(self.pool), "kafka": kafka_check(self.broker)}

    async def close(self) -> None:
        await self.resources.aclose()
