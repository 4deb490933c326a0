"""Triage's composition root: settings → policy, pool, brokers, consumers, relay and loops."""

from __future__ import annotations

import logging

from shouwang_servicekit.app import starting
from shouwang_servicekit.kafka.progress import LAG_INTERVAL_SECONDS
from shouwang_servicekit.processed import ProcessedEvents
from shouwang_servicekit.resources import open_pool
from shouwang_servicekit.tasks import BackgroundTasks

from . import metrics
from .adapters.outbox import outbox_relay
from .adapters.policy_file import load_policy
from .adapters.repository import QuietConnection
from .config import TriageSettings
from .container import Triage
from .entrypoints.consumers import register_consumers
from .entrypoints.scheduler import escalations, housekeeping

logger = logging.getLogger("shouwang.triage")


async def bootstrap(settings: TriageSettings) -> Triage:
    """Load the policy (refusing an invalid one), connect, subscribe and start the loops."""
    policy = load_policy(settings.policy_file, settings.campus_file)
    lanes = settings.relay_lanes  # refuses unknown consumer names before connecting anything
    logger.info("grading policy %s loaded", policy.version)
    async with starting() as stack:  # a failed start leaves nothing open
        pool = await open_pool(
            stack,
            settings.database_url,
            min_size=settings.db_pool_min,
            max_size=settings.db_pool_max,
            command_timeout=None,
            connection_class=QuietConnection,
        )
        kafka = settings.kafka_clients("triage")
        broker = kafka.broker(linger_ms=settings.linger_ms)
        bulk_broker = kafka.broker(linger_ms=20)
        relay = outbox_relay(
            pool,
            {"urgent": broker, "bulk": bulk_broker},
            batch=settings.relay_batch,
            poll_seconds=settings.relay_poll_seconds,
        )
        triage = Triage(settings, policy, pool, broker, relay, stack)
        register_consumers(triage)
        await bulk_broker.start()
        stack.push_async_callback(bulk_broker.stop)
        tasks = BackgroundTasks()
        # Closed after the consumers stopped: a handler in flight may still wake the relay.
        stack.push_async_callback(tasks.close)
        await broker.start()
        stack.push_async_callback(broker.stop)
        tasks.start(relay.run(lanes), name="outbox-relay")
        tasks.every(settings.escalation_interval_seconds, escalations(triage), name="escalations")
        tasks.every(15.0, housekeeping(triage), name="housekeeping")
        tasks.every(LAG_INTERVAL_SECONDS, metrics.PROGRESS.measure, name="consumer-lag")
        ProcessedEvents(pool, schema="triage").forget_hourly(tasks)
        return triage
