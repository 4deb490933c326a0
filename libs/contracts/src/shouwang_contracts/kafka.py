"""What a Kafka record means on the wire: decoding an envelope, and the dead-letter headers.

The clients that write and read records (producer settings, the partitioner, the consumer
runtime) are the service kit's (`shouwang_servicekit.kafka`).
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import ValidationError

from .envelope import Envelope, Payload, envelope_class
from .topics import dead_letter_topic

P = TypeVar("P", bound=Payload)


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
