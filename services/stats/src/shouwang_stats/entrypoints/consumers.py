"""Kafka consumers: one group per topic stats counts, each folding whatever queued up.

A record of a counted type that breaks its contract goes to `<topic>.dlq` (the kit's runtime);
a record of a type stats does not count folds into nothing; a dependency failure rewinds and
retries. Offsets are committed after the batch's transaction.
"""

from __future__ import annotations

from shouwang_servicekit.kafka.consumers import Record, Retry, subscribe_batch

from .. import metrics
from ..container import Stats
from ..domain.projection import Row
from ..service_layer.events import TOPICS, rows_of
from ..service_layer.projecting import fold_batch


def decode(record: Record) -> list[Row]:
    """The rows a record folds into (PoisonEvent: the record goes to the dead-letter topic)."""
    return rows_of(record.value, record.headers)


def register_consumers(stats: Stats) -> None:
    """Subscribe one consumer group per input topic (`<STATS_CONSUMER_GROUP>.<topic>`)."""
    settings = stats.settings
    for topic in TOPICS:

        async def fold(batch: list[list[Row]], topic: str = topic) -> None:
            await fold_batch(stats.pool, batch)
            metrics.EVENTS_FOLDED.labels(topic).inc(len(batch))

        subscribe_batch(
            stats.broker,
            topic,
            group_id=f"{settings.consumer_group}.{topic}",
            decode=decode,
            handle=fold,
            max_records=settings.batch_size,
            retry=Retry(),
            progress=metrics.PROGRESS,
        )
