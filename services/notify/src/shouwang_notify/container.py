"""Notify's parts, as `bootstrap()` assembles them: what its handlers, consumers and loops use.

Entry points import this module, never `bootstrap` (which imports them), so the wiring has
no import circle.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

import asyncpg
from faststream.kafka import KafkaBroker
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_servicekit.ops import ReadinessCheck
from shouwang_servicekit.outbox import OutboxRelay
from shouwang_servicekit.resources import database_check, kafka_check

from .adapters.links import LinkSigner
from .adapters.templates import Templates
from .config import NotifySettings
from .service_layer.dispatch import Dispatcher
from .service_layer.planner import AlertPlanner
from .service_layer.policy import NotifyPolicy


@dataclass
class Notify:
    """A started notify. `broker` runs the consumers and publishes the outbox and dead
    letters; `resources` closes what bootstrap started, newest first."""

    settings: NotifySettings
    pool: asyncpg.Pool
    cipher: NoteCipher
    pseudonyms: Pseudonymizer
    signer: LinkSigner
    templates: Templates
    policy: NotifyPolicy
    dispatcher: Dispatcher
    planner: AlertPlanner
    broker: KafkaBroker | None = None
    relay: OutboxRelay | None = None
    resources: AsyncExitStack = field(default_factory=AsyncExitStack)

    def wake_planner(self) -> None:
        """Alerts landed in the inbox: plan them now, not at the next poll."""
        self.planner.wake()

    def wake_dispatcher(self) -> None:
        """Messages were queued: send them now, not at the next poll."""
        self.dispatcher.wake()

    def readiness(self) -> Mapping[str, ReadinessCheck]:
        return {"database": database_check(self.pool), "kafka": kafka_check(self.broker)}

    async def close(self) -> None:
        await self.resources.aclose()
