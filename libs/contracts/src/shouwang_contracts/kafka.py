"""Kafka conventions shared by every service: producer durability, decoding, dead letters."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any, TypeVar

from aiokafka.partitioner import DefaultPartitioner, murmur2
from pydantic import ValidationError

from .envelope import Envelope, Payload, envelope_class
from .topics import dead_letter_topic

P = TypeVar("P", bound=Payload)


class KeyPartitioner:
    """Kafka's default partitioning of keyed records, with each key's hash remembered.

    The partition is the one the Java client and aiokafka's `DefaultPartitioner` choose
    (murmur2 of the key, made positive, modulo the partition count), so every producer of a
    student's events agrees on its partition. aiokafka computes murmur2 in pure Python, about
    a hundredth of a millisecond per key, for every record; a service keys its records by the
    same students' references all day (and a census by one campus's roster), so the hash of
    the last `maxsize` keys is looked up instead. Records without a key go to a random
    available partition, as with the default.
    """

    def __init__(self, maxsize: int = 65_536) -> None:
        self._hash = lru_cache(maxsize=maxsize)(_positive_murmur2)
        self._unkeyed = DefaultPartitioner()

    def __call__(
        self, key: bytes | None, all_partitions: Sequence[int], available: Sequence[int]
    ) -> int:
        if key is None:
            return self._unkeyed(key, all_partitions, available)  # type: ignore[no-any-return]
        return all_partitions[self._hash(bytes(key)) % len(all_partitions)]


def _positive_murmur2(key: bytes) -> int:
    return murmur2(key) & 0x7FFFFFFF  # type: ignore[no-any-return]


# Every producer: the broker acknowledges only once all in-sync replicas have the record,
# and retries cannot duplicate or reorder it; keyed records go where Kafka's default
# partitioner sends them (see `KeyPartitioner`).
DURABLE_PRODUCER: dict[str, Any] = {
    "acks": "all",
    "enable_idempotence": True,
    "partitioner": KeyPartitioner(),
}

DLQ_REASON = "x-dlq-reason"
DLQ_SOURCE_TOPIC = "x-dlq-source-topic"
DLQ_PARTITION = "x-dlq-partition"
DLQ_OFFSET = "x-dlq-offset"
DLQ_CONSUMER = "x-dlq-consumer"


class PoisonEvent(Exception):
    """A record no retry can fix: it goes to the dead-letter topic with this reason."""


def decode_event(raw: bytes, payload_cls: type[P]) -> Envelope[P]:
    """Parse and validate one record's value as an envelope of `payload_cls`."""
    try:
        model: type[Envelope[P]] = envelope_class(payload_cls)
        return model.model_validate_json(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise PoisonEvent(f"not a valid {payload_cls.EVENT_TYPE}: {problems}") from exc


def dead_letter(
    source_topic: str, *, reason: str, partition: int, offset: int, consumer: str
) -> tuple[str, dict[str, str]]:
    """The dead-letter topic and headers for a poison record of `source_topic`."""
    headers = {
        DLQ_REASON: reason[:1000],
        DLQ_SOURCE_TOPIC: source_topic,
        DLQ_PARTITION: str(partition),
        DLQ_OFFSET: str(offset),
        DLQ_CONSUMER: consumer,
    }
    return dead_letter_topic(source_topic), headers
