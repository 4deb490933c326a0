"""Intake's composition root: settings → pools, producers, consumer, use cases, chores."""

from __future__ import annotations

from shouwang_servicekit.app import starting
from shouwang_servicekit.kafka.progress import LAG_INTERVAL_SECONDS
from shouwang_servicekit.processed import RETENTION_INTERVAL_SECONDS, ProcessedEvents
from shouwang_servicekit.resources import open_pool
from shouwang_servicekit.tasks import BackgroundTasks

from . import metrics
from .adapters.publisher import EventPublisher
from .adapters.store import IntakeStore, QuietConnection, create_receipts_pool
from .config import IntakeSettings
from .container import Intake
from .entrypoints.consumers import register_receipt_consumer
from .service_layer.census import CensusIntake
from .service_layer.retention import retention_chore
from .service_layer.submissions import Submissions


async def bootstrap(settings: IntakeSettings) -> Intake:
    """Connect to PostgreSQL and Kafka, subscribe the receipt consumer, build the use cases."""
    pseudonymizer = settings.pseudonymizer()  # bad keys refuse to start before connecting
    cipher = settings.note_cipher()
    async with starting() as stack:  # a failed start leaves nothing open
        dsn = settings.database_url.get_secret_value()
        pool = await open_pool(
            stack,
            dsn,
            min_size=settings.db_pool_min,
            max_size=settings.db_pool_max,
            connection_class=QuietConnection,
        )
        # A receipt without an Idempotency-Key is written while its record lingers in the
        # producer and waits for Kafka's ack: gathering receipts for as long costs a report no
        # time, and a busy intake about a tenth less CPU per report than one statement for
        # every few receipts (bench/README.md).
        receipts_pool = await create_receipts_pool(dsn)
        stack.push_async_callback(receipts_pool.close)
        store = IntakeStore(
            pool, receipt_gather_seconds=settings.linger_ms / 1000, receipts_pool=receipts_pool
        )
        kafka = settings.kafka_clients("intake")
        # FastStream runs the receipt consumer (and publishes its dead letters).
        broker = kafka.broker(linger_ms=settings.linger_ms)
        register_receipt_consumer(broker, store, group_id=settings.consumer_group)
        await broker.start()
        stack.push_async_callback(broker.stop)

        async def kafka_answers() -> bool:
            return await broker.ping(timeout=1.5)

        reports_publisher = EventPublisher(
            kafka.producer_factory(linger_ms=settings.linger_ms, name="reports"),
            ping=kafka_answers,
            timeout_seconds=settings.publish_timeout_seconds,
        )
        # The census producer batches big and lingers longer: throughput, not latency.
        census_publisher = EventPublisher(
            kafka.producer_factory(linger_ms=20, name="census", max_batch_size=256 * 1024),
            ping=kafka_answers,
            timeout_seconds=settings.publish_timeout_seconds,
        )
        for publisher in (reports_publisher, census_publisher):
            await publisher.start()
            stack.push_async_callback(publisher.stop)
        tasks = BackgroundTasks()
        stack.push_async_callback(tasks.close)
        ProcessedEvents(pool, schema="intake").forget_hourly(tasks)
        tasks.every(
            RETENTION_INTERVAL_SECONDS,
            retention_chore(
                pool,
                receipt_days=settings.receipt_retention_days,
                key_days=settings.idempotency_key_days,
                census_error_days=settings.census_error_days,
                census_batch_days=settings.census_batch_days,
                batch=settings.retention_batch,
            ),
            name="receipt-retention",
        )
        tasks.every(LAG_INTERVAL_SECONDS, metrics.PROGRESS.measure, name="consumer-lag")
        return Intake(
            settings=settings,
            store=store,
            pseudonymizer=pseudonymizer,
            submissions=Submissions(
                store=store,
                publisher=reports_publisher,
                pseudonymizer=pseudonymizer,
                cipher=cipher,
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
            reports_publisher=reports_publisher,
            resources=stack,
        )
