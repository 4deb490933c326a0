"""Wiring: settings → pool, producers, use cases. The one place intake is assembled."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg
from faststream.kafka import KafkaBroker
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_contracts.topics import PROCESSED_EVENT_MEMORY

from .adapters.publisher import EventPublisher, durable_broker, durable_producer
from .adapters.store import IntakeStore, QuietConnection, create_receipts_pool
from .config import IntakeSettings
from .entrypoints.consumers import register_receipt_consumer
from .service_layer.census import CensusIntake
from .service_layer.submissions import Submissions

logger = logging.getLogger(__name__)


@dataclass
class Deps:
    """Everything a request handler may need, built once at start-up."""

    settings: IntakeSettings
    pool: asyncpg.Pool
    receipts_pool: asyncpg.Pool
    store: IntakeStore
    broker: KafkaBroker
    reports_publisher: EventPublisher
    census_publisher: EventPublisher
    pseudonymizer: Pseudonymizer
    submissions: Submissions
    census: CensusIntake
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.census_publisher.stop()
        await self.reports_publisher.stop()
        await self.broker.stop()
        await self.receipts_pool.close()
        await self.pool.close()


async def bootstrap(settings: IntakeSettings) -> Deps:
    """Connect to PostgreSQL and Kafka and build the use cases."""
    pool = await asyncpg.create_pool(
        settings.database_url.get_secret_value(),
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        command_timeout=10,
        connection_class=QuietConnection,
    )
    # A receipt without an Idempotency-Key is written while its record lingers in the
    # producer and waits for Kafka's ack: gathering receipts for as long costs a report no
    # time, and a busy intake about a tenth less CPU per report than one statement for every
    # few receipts (bench/README.md).
    receipts_pool = await create_receipts_pool(settings.database_url.get_secret_value())
    store = IntakeStore(
        pool,
        receipt_gather_seconds=settings.linger_ms / 1000,
        receipts_pool=receipts_pool,
    )
    # FastStream runs the receipt consumer (and would publish its dead letters).
    broker = durable_broker(
        settings.kafka_bootstrap_servers,
        client_id="shouwang-intake",
        linger_ms=settings.linger_ms,
    )
    register_receipt_consumer(broker, store, group_id=settings.consumer_group)
    await broker.start()

    async def kafka_answers() -> bool:
        return await broker.ping(timeout=1.5)

    reports_publisher = EventPublisher(
        durable_producer(
            settings.kafka_bootstrap_servers,
            client_id="shouwang-intake-reports",
            linger_ms=settings.linger_ms,
        ),
        ping=kafka_answers,
        timeout_seconds=settings.publish_timeout_seconds,
    )
    # The census producer batches big and lingers longer: throughput, not latency.
    census_publisher = EventPublisher(
        durable_producer(
            settings.kafka_bootstrap_servers,
            client_id="shouwang-intake-census",
            linger_ms=20,
            max_batch_size=256 * 1024,
        ),
        ping=kafka_answers,
        timeout_seconds=settings.publish_timeout_seconds,
    )
    await reports_publisher.start()
    await census_publisher.start()
    pseudonymizer = settings.pseudonymizer()
    deps = Deps(
        settings=settings,
        pool=pool,
        receipts_pool=receipts_pool,
        store=store,
        broker=broker,
        reports_publisher=reports_publisher,
        census_publisher=census_publisher,
        pseudonymizer=pseudonymizer,
        submissions=Submissions(
            store=store,
            publisher=reports_publisher,
            pseudonymizer=pseudonymizer,
            cipher=settings.note_cipher(),
            zone=settings.zone,
        ),
        census=CensusIntake(
            store=store,
            publisher=census_publisher,
            pseudonymizer=pseudonymizer,
            zone=settings.zone,
            max_rows=settings.max_census_rows,
            in_flight=settings.census_in_flight,
            heartbeat_seconds=settings.census_heartbeat_seconds,
            stale_seconds=settings.census_stale_seconds,
        ),
    )
    deps.tasks.append(asyncio.create_task(keep_house(store), name="housekeeping"))
    return deps


async def keep_house(store: IntakeStore, interval_seconds: float = 3600.0) -> None:
    """Hourly: forget consumed event ids Kafka could no longer redeliver."""
    while True:
        try:
            gone = await store.forget_processed_before(datetime.now(UTC) - PROCESSED_EVENT_MEMORY)
            if gone:
                logger.info("forgot %d processed event ids", gone)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.warning("housekeeping failed; next try in an hour", exc_info=True)
        await asyncio.sleep(interval_seconds)
