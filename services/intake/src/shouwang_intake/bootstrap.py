"""Wiring: settings → pool, producers, use cases. The one place intake is assembled."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from faststream.kafka import KafkaBroker
from shouwang_contracts.pseudonym import Pseudonymizer

from .adapters.publisher import EventPublisher, durable_broker
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
    reports_broker: KafkaBroker
    census_broker: KafkaBroker
    reports_publisher: EventPublisher
    pseudonymizer: Pseudonymizer
    submissions: Submissions
    census: CensusIntake

    async def close(self) -> None:
        await self.census_broker.stop()
        await self.reports_broker.stop()
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
    reports_broker = durable_broker(
        settings.kafka_bootstrap_servers,
        client_id="shouwang-intake-reports",
        linger_ms=settings.linger_ms,
    )
    # The census producer batches big and lingers longer: throughput, not latency.
    census_broker = durable_broker(
        settings.kafka_bootstrap_servers,
        client_id="shouwang-intake-census",
        linger_ms=20,
        max_batch_size=256 * 1024,
    )
    register_receipt_consumer(reports_broker, store, group_id="shouwang-intake-receipts")
    await reports_broker.start()
    await census_broker.start()
    pseudonymizer = settings.pseudonymizer()
    reports_publisher = EventPublisher(
        reports_broker, timeout_seconds=settings.publish_timeout_seconds
    )
    census_publisher = EventPublisher(
        census_broker, timeout_seconds=settings.publish_timeout_seconds
    )
    return Deps(
        settings=settings,
        pool=pool,
        store=store,
        reports_broker=reports_broker,
        census_broker=census_broker,
        reports_publisher=reports_publisher,
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
