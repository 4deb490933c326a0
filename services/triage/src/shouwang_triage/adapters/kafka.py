"""What triage's consumers report: dead letters and how far each partition lags behind."""

from __future__ import annotations

from typing import Any

from aiokafka import TopicPartition  # type: ignore[import-untyped]
from shouwang_servicekit.kafka.consumers import DEAD_LETTERED, ConsumerObserver, Record

from .. import metrics


class ConsumerMetrics(ConsumerObserver):
    """`triage_dead_letters` and `triage_consumer_lag`."""

    def received(self, consumer: Any, record: Record) -> None:
        """Set the lag gauge from the consumer's last known high watermark, if it has one."""
        try:
            highwater = consumer.highwater(TopicPartition(record.topic, record.partition))
        except Exception:  # a fake consumer (in-memory tests) has no watermarks
            return
        if highwater is not None:
            metrics.CONSUMER_LAG.labels(record.topic, str(record.partition)).set(
                max(highwater - record.offset - 1, 0)
            )

    def handled(self, record: Record, outcome: str) -> None:
        if outcome == DEAD_LETTERED:
            metrics.DEAD_LETTERS.labels(record.topic).inc()
