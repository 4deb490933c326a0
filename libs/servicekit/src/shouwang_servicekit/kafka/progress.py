"""How far behind each consumer is, measured the same way in every service.

    PROGRESS = ConsumerProgress(REGISTRY)                       # metrics.py
    subscribe(broker, topic, ..., progress=metrics.PROGRESS)    # each consumer
    tasks.every(LAG_INTERVAL_SECONDS, metrics.PROGRESS.measure, name="consumer-lag")

On a timer, for the partitions each consumer holds, `measure` reads the group's committed
offset and the partition's end offset from the brokers, and sets

- `shouwang_consumer_lag{group, topic, partition}`: end offset minus committed offset;
- `shouwang_consumer_committed_offset{group, topic, partition}`: where the group stands.

A lag sampled only when a record is handled reads 0 forever for a consumer that hangs once
caught up, and keeps its last value after a rebalance moved the partition to another pod,
paging for a lag that no longer exists. Measured from the brokers, a hung consumer's lag grows
while its committed offset stands still (an alert on both catches it), and a partition's
series is removed the moment this consumer loses it.

`shouwang_consumer_records_total{group, topic, outcome}` counts what became of each record
(handled, dead_lettered, retried, or the handler's own word); the runtime's outcomes exist at
0 from the subscription on, so `increase()` sees the first dead letter.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import TopicPartition
from prometheus_client import CollectorRegistry, Counter, Gauge

logger = logging.getLogger("shouwang.kafka.progress")

#: How often `measure` runs (seconds): a scrape interval, so each scrape sees a fresh value.
LAG_INTERVAL_SECONDS = 15.0
#: The runtime's own outcomes (kafka.consumers), created at 0 for every subscription.
RUNTIME_OUTCOMES = ("handled", "dead_lettered", "retried")


@dataclass(eq=False)
class Watched:
    """One subscription: its group, its FastStream subscriber (whose `consumer` exists while it
    runs) and the partitions the group gave it."""

    group: str
    subscriber: Any
    held: set[TopicPartition] = field(default_factory=set)


class ConsumerProgress:
    """The consumer metrics of one service, in its registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ["group", "topic", "partition"]
        self.lag = Gauge(
            "shouwang_consumer_lag",
            "Records behind: the partition's end offset minus the group's committed offset,"
            " for the partitions this consumer holds (measured on a timer).",
            labels,
            registry=registry,
        )
        self.committed = Gauge(
            "shouwang_consumer_committed_offset",
            "The group's committed offset, for the partitions this consumer holds.",
            labels,
            registry=registry,
        )
        self.records = Counter(
            "shouwang_consumer_records",
            "Records consumed, by what became of them (handled, dead_lettered, retried, or the"
            " handler's own outcome).",
            ["group", "topic", "outcome"],
            registry=registry,
        )
        self._watched: list[Watched] = []

    def watch(self, group: str, topics: Sequence[str], subscriber: Any) -> Watched:
        """Follow one subscription of `topics` (the kit's `subscribe` functions call this)."""
        for topic in topics:
            for outcome in RUNTIME_OUTCOMES:
                self.records.labels(group, topic, outcome)
        watched = Watched(group, subscriber)
        self._watched.append(watched)
        return watched

    def assigned(self, watched: Watched, partitions: set[TopicPartition]) -> None:
        watched.held |= partitions

    def revoked(self, watched: Watched, partitions: set[TopicPartition]) -> None:
        """Forget the partitions and remove their series at once: another pod reports them."""
        watched.held -= partitions
        for tp in partitions:
            self._remove(watched.group, tp)

    def handled(self, watched: Watched, topic: str, outcome: str) -> None:
        self.records.labels(watched.group, topic, outcome).inc()

    def _remove(self, group: str, tp: TopicPartition) -> None:
        for gauge in (self.lag, self.committed):
            with contextlib.suppress(KeyError):  # never measured yet
                gauge.remove(group, tp.topic, str(tp.partition))

    async def measure(self) -> bool:
        """One round: every held partition's lag and committed offset, from the brokers."""
        for watched in self._watched:
            consumer = getattr(watched.subscriber, "consumer", None)
            held = sorted(watched.held)
            if consumer is None or not held:
                continue
            try:
                ends: dict[TopicPartition, int] = await consumer.end_offsets(held)
                committed = {tp: await consumer.committed(tp) for tp in held}
                missing = [tp for tp, offset in committed.items() if offset is None]
                starts = await consumer.beginning_offsets(missing) if missing else {}
            except Exception as exc:  # the brokers away: readiness and Kafka alerts say so
                logger.warning("measuring %s's lag failed: %s", watched.group, type(exc).__name__)
                continue
            for tp in held:
                if tp not in watched.held:
                    continue  # revoked while measuring: its series stays removed
                at = committed[tp]
                # A group with no commit on a partition starts at its beginning (earliest).
                position = at if at is not None else starts.get(tp, 0)
                labels = (watched.group, tp.topic, str(tp.partition))
                self.committed.labels(*labels).set(position)
                self.lag.labels(*labels).set(max(ends.get(tp, position) - position, 0))
        return False
