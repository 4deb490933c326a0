"""Publishing envelopes to Kafka and knowing when the broker has them.

Two producers: one for reports and individual screenings, one for census rows, each its
own connection and record accumulator, so a census upload in flight never queues ahead of
a tier report. Both use acks=all with the idempotent producer.

They are aiokafka producers, the client FastStream itself wraps. Intake's hot path hands
records straight to it: FastStream's publish builds a command object, a correlation id
and a middleware chain per message, which measured about a tenth of intake's CPU per
report. FastStream still runs intake's consumer and documents the topics (AsyncAPI).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.kafka import DURABLE_PRODUCER

logger = logging.getLogger(__name__)


class KafkaUnavailable(Exception):
    """Kafka did not acknowledge the write in time; nothing may be promised to the client."""


def durable_broker(
    bootstrap_servers: str, *, client_id: str, linger_ms: int, **extra: Any
) -> KafkaBroker:
    """A FastStream broker whose producer waits for all in-sync replicas."""
    return KafkaBroker(
        bootstrap_servers,
        client_id=client_id,
        linger_ms=linger_ms,
        allow_auto_create_topics=False,
        request_timeout_ms=10_000,
        logger=None,
        **DURABLE_PRODUCER,
        **extra,
    )


def durable_producer(
    bootstrap_servers: str, *, client_id: str, linger_ms: int, **extra: Any
) -> Callable[[], AIOKafkaProducer]:
    """A factory of aiokafka producers that wait for all in-sync replicas."""

    def make() -> AIOKafkaProducer:
        return AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers,
            client_id=client_id,
            linger_ms=linger_ms,
            request_timeout_ms=10_000,
            **DURABLE_PRODUCER,
            **extra,
        )

    return make


class EventPublisher:
    """Sends envelopes and waits for Kafka's acknowledgement, or says it could not."""

    def __init__(
        self,
        make_producer: Callable[[], AIOKafkaProducer],
        *,
        ping: Callable[[], Awaitable[bool]],
        timeout_seconds: float,
        reset_after_seconds: float = 20.0,
    ) -> None:
        self._make_producer = make_producer
        self._producer: AIOKafkaProducer | None = None
        self._ping = ping
        self._timeout = timeout_seconds
        self._reset_after = reset_after_seconds
        self._failing_since: float | None = None
        self._reset_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        producer = self._make_producer()
        await producer.start()
        self._producer = producer

    async def stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    async def publish(self, envelope: Envelope[Any], topic: str | None = None) -> None:
        """Return only once Kafka acknowledged the record (acks=all), or raise
        `KafkaUnavailable` when it did not within the timeout.

        One deadline covers both the hand-over and the acknowledgement. The wait on the
        producer's own future is shielded: cancelling it on timeout would trip aiokafka's
        sender later, and it would stop sending.
        """
        producer = self._producer
        if producer is None:
            raise KafkaUnavailable("the Kafka producer is not started")
        delivery: asyncio.Future[Any] | None = None
        try:
            async with asyncio.timeout(self._timeout):
                delivery = await producer.send(
                    topic or envelope.topic,
                    envelope.to_bytes(),
                    key=envelope.key,
                    headers=_kafka_headers(envelope),
                )
                await asyncio.shield(delivery)
        except Exception as exc:
            if delivery is not None and not delivery.done():
                delivery.add_done_callback(_consume_outcome)
            self._note_failure()
            if isinstance(exc, TimeoutError):
                raise KafkaUnavailable(f"no acknowledgement within {self._timeout:.1f} s") from exc
            raise KafkaUnavailable(str(exc) or type(exc).__name__) from exc
        except asyncio.CancelledError:
            if delivery is not None and not delivery.done():
                delivery.add_done_callback(_consume_outcome)
            raise
        self._failing_since = None

    def _note_failure(self) -> None:
        """After failures for a while, recreate the producer once the broker answers again.

        An idempotent producer can be left wedged by a broker that restarted under it
        (leaders moving, sequence state lost); a fresh producer gets a new producer id.
        """
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
        elif now - self._failing_since >= self._reset_after and (
            self._reset_task is None or self._reset_task.done()
        ):
            self._reset_task = asyncio.create_task(self._reset_producer())

    async def _reset_producer(self) -> None:
        if not await self._ping():
            return  # the broker is still away: a new producer would not help
        logger.warning(
            "recreating the Kafka producer after %.0f s of failed publishes",
            time.monotonic() - (self._failing_since or time.monotonic()),
        )
        old = self._producer
        await self.start()
        self._failing_since = None
        if old is not None:
            try:
                async with asyncio.timeout(self._timeout):
                    await old.stop()
            except Exception:
                logger.warning("the replaced Kafka producer did not stop cleanly", exc_info=True)

    async def enqueue(
        self, envelope: Envelope[Any], topic: str | None = None
    ) -> asyncio.Future[Any]:
        """Hand a record to the producer's batch; the returned future resolves on the ack.

        Waits only for topic metadata or while the producer's buffer is full, which is the
        back-pressure a bulk upload needs; many rows then ride in few requests.
        """
        producer = self._producer
        if producer is None:
            raise KafkaUnavailable("the Kafka producer is not started")
        try:
            async with asyncio.timeout(self._timeout):
                delivery: asyncio.Future[Any] = await producer.send(
                    topic or envelope.topic,
                    envelope.to_bytes(),
                    key=envelope.key,
                    headers=_kafka_headers(envelope),
                )
        except Exception as exc:
            self._note_failure()
            raise KafkaUnavailable(str(exc) or type(exc).__name__) from exc
        return delivery

    async def wait_acknowledged(self, futures: list[asyncio.Future[Any]]) -> int:
        """Wait for the acks of enqueued records; raise if any was not acknowledged in time."""
        if not futures:
            return 0
        done, pending = await asyncio.wait(futures, timeout=self._timeout * 4)
        if pending:
            raise KafkaUnavailable(f"{len(pending)} records not acknowledged in time")
        failures = [f.exception() for f in done if f.exception() is not None]
        if failures:
            raise KafkaUnavailable(str(failures[0]) or type(failures[0]).__name__)
        return len(done)

    async def ping(self) -> bool:
        return self._producer is not None and await self._ping()


def _kafka_headers(envelope: Envelope[Any]) -> list[tuple[str, bytes]]:
    return [(name, value.encode()) for name, value in envelope.headers().items()]


def _consume_outcome(delivery: asyncio.Future[Any]) -> None:
    """Retrieve a late delivery's exception so asyncio does not log it as unhandled."""
    if not delivery.cancelled():
        delivery.exception()
