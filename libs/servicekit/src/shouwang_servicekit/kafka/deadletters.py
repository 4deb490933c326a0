"""Poison records to `<topic>.dlq`, with the reason headers operators read them by."""

from __future__ import annotations

import logging
from typing import Any

from faststream.kafka import KafkaBroker
from shouwang_contracts.kafka import dead_letter

logger = logging.getLogger("shouwang.kafka.dead_letters")


class DeadLetters:
    """Copies poison records of one consumer (`consumer`, its `x-dlq-consumer` header) to
    their topic's dead-letter twin: same key, value and headers, plus `x-dlq-reason`,
    `x-dlq-source-topic`, `x-dlq-partition` and `x-dlq-offset` headers (so that `shouwang-dlq
    replay` can put the record back as it was: its event id and trace travel in headers)."""

    def __init__(self, broker: KafkaBroker, consumer: str) -> None:
        self._broker = broker
        self.consumer = consumer

    async def send(self, record: Any, reason: str) -> None:
        """Publish the copy and wait for the broker's acknowledgement (raises if it fails)."""
        topic, headers = dead_letter(
            record.topic,
            reason=reason,
            partition=record.partition,
            offset=record.offset,
            consumer=self.consumer,
        )
        # Our headers are text (CloudEvents' ce_*, traceparent, FastStream's own); a foreign
        # binary one must not stop the dead-lettering, so it is carried with � for bad bytes.
        original = {
            name: bytes(value).decode("utf-8", "replace") for name, value in record.headers or ()
        }
        await self._broker.publish(
            record.value or b"", topic, key=record.key, headers=original | headers
        )
        # The reason names fields and types, never values: no personal data reaches the log.
        logger.warning(
            "dead-lettered %s[%d]@%d: %s",
            record.topic,
            record.partition,
            record.offset,
            reason[:200],
        )
