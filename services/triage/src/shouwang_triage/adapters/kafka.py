"""The Kafka side: a durable FastStream broker, dead-lettering and raw-record helpers."""

from __future__ import annotations

import logging
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition  # type: ignore[import-untyped]
from faststream.kafka import KafkaBroker
from shouwang_contracts.kafka import DURABLE_PRODUCER, dead_letter

from .. import metrics

logger = logging.getLogger("shouwang.triage.kafka")


def build_broker(bootstrap_servers: str, *, linger_ms: int) -> KafkaBroker:
    """A broker whose producer waits for every in-sync replica and never duplicates on retry.

    FastStream's per-message logs go to DEBUG: a census is tens of thousands of records.
    """
    return KafkaBroker(
        bootstrap_servers,
        client_id="shouwang-triage",
        linger_ms=linger_ms,
        log_level=logging.DEBUG,
        **DURABLE_PRODUCER,
    )


async def send_to_dead_letter(
    broker: KafkaBroker, record: ConsumerRecord[Any, Any], reason: str, consumer: str
) -> None:
    """Copy a poison record to `<topic>.dlq` with the reason headers; waits for the broker."""
    topic, headers = dead_letter(
        record.topic,
        reason=reason,
        partition=record.partition,
        offset=record.offset,
        consumer=consumer,
    )
    await broker.publish(record.value or b"", topic, key=record.key, headers=headers)
    metrics.DEAD_LETTERS.labels(record.topic).inc()
    # The reason names fields and types, never values: no personal data reaches the log.
    logger.warning(
        "dead-lettered %s[%d]@%d: %s", record.topic, record.partition, record.offset, reason[:200]
    )


def observe_lag(consumer: Any, record: ConsumerRecord[Any, Any]) -> None:
    """Set the lag gauge from the consumer's last known high watermark, if it has one."""
    try:
        highwater = consumer.highwater(TopicPartition(record.topic, record.partition))
    except Exception:  # a fake consumer (in-memory tests) has no watermarks
        return
    if highwater is not None:
        metrics.CONSUMER_LAG.labels(record.topic, str(record.partition)).set(
            max(highwater - record.offset - 1, 0)
        )
