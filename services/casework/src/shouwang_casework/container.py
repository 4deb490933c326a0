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

    async def ping_kafka(self) -> bool:
        return bool(await self.broker.ping(timeout=2))

    async def ping_database(self) -> bool:
        async with self.pool.acquire() as conn:
            return bool(await conn.fetchval("SELECT true"))

    def readiness(self) -> Mapping[str, ReadinessCheck]:
        return {"database": self.ping_database, "kafka": self.ping_kafka}

    async def close(self) -> None:
        await self.resources.aclose()
