"""Wiring: settings → pool, broker, cipher, consumers and background loops. Assembled once."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import logging
from dataclasses import dataclass, field

import asyncpg
from faststream.kafka import KafkaBroker
from shouwang_contracts.auth import TokenVerifier
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.kafka import DURABLE_PRODUCER
from shouwang_contracts.pseudonym import Pseudonymizer

from .config import CaseworkSettings

logger = logging.getLogger(__name__)


@dataclass
class Deps:
    """Everything a handler or request may need, built once at start-up."""

    settings: CaseworkSettings
    pool: asyncpg.Pool
    broker: KafkaBroker
    cipher: NoteCipher
    pseudonymizer: Pseudonymizer
    verifier: TokenVerifier
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def db_pool(self) -> asyncpg.Pool:
        """The pool, by the name records' consumers read it."""
        return self.pool

    async def close(self) -> None:
        """Stop the loops, then the consumers (so no handler runs on a closed pool), then the pool."""
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.broker.stop()
        await self.pool.close()


def durable_broker(settings: CaseworkSettings) -> KafkaBroker:
    """A FastStream broker whose producer waits for all in-sync replicas (acks=all, idempotent)."""
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id="shouwang-casework",
        allow_auto_create_topics=False,
        request_timeout_ms=10_000,
        linger_ms=2,
        logger=None,
        **DURABLE_PRODUCER,
    )


async def bootstrap(settings: CaseworkSettings) -> Deps:
    """Connect to PostgreSQL and Kafka, subscribe the consumers and start the loops."""
    from .entrypoints.consumers import register_case_consumers
    from .entrypoints.relay import (
        follow_up_reminders,
        forget_processed_events,
        refresh_case_gauges,
        relay_outbox,
    )

    pool = await asyncpg.create_pool(
        settings.database_url.get_secret_value(),
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        command_timeout=10,
    )
    deps = Deps(
        settings=settings,
        pool=pool,
        broker=durable_broker(settings),
        cipher=settings.note_cipher(),
        pseudonymizer=settings.pseudonymizer(),
        verifier=settings.token_verifier(),
    )
    if settings.consumers_enabled:
        register_case_consumers(deps.broker, deps)
        _register_record_consumers(deps)
    await deps.broker.start()
    if settings.relay_enabled:
        deps.tasks.append(asyncio.create_task(relay_outbox(deps), name="outbox-relay"))
    deps.tasks.append(asyncio.create_task(follow_up_reminders(deps), name="follow-up-reminders"))
    deps.tasks.append(asyncio.create_task(refresh_case_gauges(deps), name="case-gauges"))
    deps.tasks.append(
        asyncio.create_task(forget_processed_events(deps), name="forget-processed-events")
    )
    return deps


def _register_record_consumers(deps: Deps) -> None:
    # Records (roster, file, audit) subscribe their own consumers on the same broker.
    name = f"{__package__}.entrypoints.record_consumers"
    if importlib.util.find_spec(name) is None:
        logger.warning("record consumers are not available; the student file is not fed")
        return
    importlib.import_module(name).register_record_consumers(deps.broker, deps)
