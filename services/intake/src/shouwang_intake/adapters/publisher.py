"""Publishing envelopes to Kafka and knowing when the broker has them.

Two producers: one for reports and individual screenings, one for census rows, each its
own connection and record accumulator, so a census upload in flight never queues ahead of
a tier report. Both use acks=all with the idempotent producer.
"""

from __future__ import annotations

import asyncio
from typing import Any

from faststream.kafka import KafkaBroker
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.kafka import DURABLE_PRODUCER


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


class EventPublisher:
    """Sends envelopes and waits for Kafka's acknowledgement, or says it could not."""

    def __init__(self, broker: KafkaBroker, *, timeout_seconds: float) -> None:
        self._broker = broker
        self._timeout = timeout_seconds

    async def publish(self, envelope: Envelope[Any], topic: str | None = None) -> None:
        """Return only once Kafka acknowledged the record (acks=all)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        delivery = await self.enqueue(envelope, topic)
        try:
            # Shielded: giving up on the wait must not cancel the producer's own future,
            # or aiokafka's sender later trips over a cancelled batch and stops sending.
            await asyncio.wait_for(asyncio.shield(delivery), max(deadline - loop.time(), 0.01))
        except Exception as exc:  # aiokafka's errors, timeouts, a closed producer: all 503
            raise KafkaUnavailable(str(exc) or type(exc).__name__) from exc

    async def enqueue(
        self, envelope: Envelope[Any], topic: str | None = None
    ) -> asyncio.Future[Any]:
        """Hand a record to the producer's batch; the returned future resolves on the ack.

        Waits only for topic metadata or while the producer's buffer is full, which is the
        back-pressure a bulk upload needs; many rows then ride in few requests.
        """
        try:
            delivery = await asyncio.wait_for(
                self._broker.publish(
                    envelope.to_bytes(),
                    topic or envelope.topic,
                    key=envelope.key,
                    headers=envelope.headers(),
                    no_confirm=True,
                ),
                self._timeout,
            )
        except Exception as exc:
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
        return await self._broker.ping(timeout=1.5)
