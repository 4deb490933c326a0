"""Wiring: settings -> policy, pool, broker, consumers, relay and background loops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

import asyncpg
from faststream.kafka import KafkaBroker

from .adapters.kafka import build_broker
from .adapters.outbox import OutboxRelay
from .adapters.policy_file import load_policy
from .adapters.repository import QuietConnection
from .config import TriageSettings
from .entrypoints.consumers import DutyCycle, Triage, register_consumers
from .entrypoints.scheduler import run_escalations, run_housekeeping

logger = logging.getLogger("shouwang.triage")


@dataclass
class Running:
    """A started triage: its parts and the background tasks to cancel on shutdown."""

    triage: Triage
    bulk_broker: KafkaBroker
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def ping_database(self) -> bool:
        async with self.triage.pool.acquire() as conn:
            return bool(await conn.fetchval("SELECT 1"))

    async def ping_kafka(self) -> bool:
        return await self.triage.broker.ping(timeout=1.5)

    async def close(self) -> None:
        """Stop consuming first, then the loops, then the connections."""
        await self.triage.broker.stop()
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.bulk_broker.stop()
        await self.triage.pool.close()


async def bootstrap(settings: TriageSettings) -> Running:
    """Load the policy (refusing an invalid one), connect, subscribe and start the loops."""
    policy = load_policy(settings.policy_file, settings.campus_file)
    lanes = settings.relay_lanes  # refuses unknown consumer names before connecting anything
    logger.info("grading policy %s loaded", policy.version)
    pool = await asyncpg.create_pool(
        settings.database_url.get_secret_value(),
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        connection_class=QuietConnection,
    )
    broker = build_broker(settings.kafka_bootstrap_servers, linger_ms=settings.linger_ms)
    bulk_broker = build_broker(settings.kafka_bootstrap_servers, linger_ms=20)
    relay = OutboxRelay(
        pool,
        {"urgent": broker, "bulk": bulk_broker},
        batch=settings.relay_batch,
        poll_seconds=settings.relay_poll_seconds,
    )
    triage = Triage(
        broker=broker,
        pool=pool,
        policy=policy,
        relay=relay,
        settings=settings,
        census_pace=DutyCycle(settings.census_duty_cycle),
    )
    register_consumers(triage)
    try:
        await bulk_broker.start()
        await broker.start()
    except BaseException:
        await bulk_broker.stop()
        await pool.close()
        raise
    running = Running(triage, bulk_broker)
    running.tasks = [
        asyncio.create_task(relay.run(lanes), name="outbox-relay"),
        asyncio.create_task(
            run_escalations(
                pool,
                policy,
                relay,
                interval=settings.escalation_interval_seconds,
                batch=settings.escalation_batch,
            ),
            name="escalations",
        ),
        asyncio.create_task(run_housekeeping(pool, policy), name="housekeeping"),
    ]
    return running
