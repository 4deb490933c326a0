"""Wiring: settings → pool, producers, use cases. The one place intake is assembled."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from faststream.kafka import KafkaBroker
from shouwang_contracts.pseudonym import Pseudonymizer

from .adapters.publisher import EventPublisher, durable_broker, durable_producer
from .adapters.store import IntakeStore, QuietConnection
from .config import IntakeSettings
from .entrypoints.consumers import register_receipt_consumer
from .service_layer.census import CensusIntake
from .service_layer.submissions import Submissions


@dataclass
class Deps:
    """Everything a request handler may need, built once at start-up."""

    settings: IntakeSettings
    pool: asyncpg.Pool
    store: IntakeStore
    broker: KafkaBroker
    reports_publisher: EventPublisher
    census_publisher: EventPublisher
    pseudonymizer: Pseudonymizer
    submissions: Submissions
    census: CensusIntake

    async def close(self) -> None:
        await self.census_publisher.stop()
        await self.reports_publisher.stop()
        await self.broker.stop()
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
    store = IntakeStore(pool)
    # FastStream runs the receipt consumer (and would publish its dead letters).
    broker = durable_broker(
        settings.kafka_bootstrap_servers,
        client_id="shouwang-intake",
        linger_ms=settings.linger_ms,
    )
    register_receipt_consumer(broker, store, group_id="shouwang-intake-receipts")
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
    return Deps(
        settings=settings,
        pool=pool,
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
        ),
    )
