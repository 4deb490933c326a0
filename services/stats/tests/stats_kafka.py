"""Publish events to the real topics as their producers do (keyed, with CloudEvents headers)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaProducer
from shouwang_contracts.envelope import Envelope
from shouwang_servicekit.kafka.clients import DURABLE_PRODUCER


async def publish(bootstrap: str, envelopes: Iterable[Envelope[Any]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, **DURABLE_PRODUCER)
    await producer.start()
    try:
        sent = [
            await producer.send(
                envelope.topic,
                envelope.to_bytes(),
                key=envelope.key,
                headers=envelope.kafka_headers(),
            )
            for envelope in envelopes
        ]
        for future in sent:
            await future
    finally:
        await producer.stop()


async def publish_raw(
    bootstrap: str, topic: str, value: bytes, key: bytes, headers: list[tuple[str, bytes]]
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **DURABLE_PRODUCER)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key, headers=headers)
    finally:
        await producer.stop()
