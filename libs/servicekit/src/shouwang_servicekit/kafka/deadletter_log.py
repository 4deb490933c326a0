"""Dead letters for operators: read a `.dlq` topic's records without their values, pick some,
and replay them onto the topic they came from (`shouwang-dlq`, in
`shouwang_servicekit.deadletter_cli`).

What is read for people is only what the `x-dlq-*` headers say and the envelope's event type,
id and campus: never the value, the key (campus and student reference) or any other field.
A replayed record keeps its key, value and headers (minus `x-dlq-*`) and says where it came
from in `x-replayed-from`; consumers are idempotent by event id, so replaying one twice does
no harm.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from shouwang_contracts.kafka import (
    DLQ_CONSUMER,
    DLQ_OFFSET,
    DLQ_PARTITION,
    DLQ_REASON,
    DLQ_SOURCE_TOPIC,
)
from shouwang_contracts.topics import DLQ_SUFFIX

from .clients import KafkaClients

#: The header a replayed record carries: `<dlq topic>/<partition>/<offset>`.
REPLAYED_FROM = "x-replayed-from"
_DLQ_HEADER_PREFIX = "x-dlq-"
#: The longest a read of one dead-letter topic may take (a broker gone mid-read).
READ_TIMEOUT_SECONDS = 120.0


class DeadLetterRefusal(Exception):
    """An operator's request the tool cannot do; `code` names the message to show."""

    def __init__(self, code: str, **details: str) -> None:
        super().__init__(code, details)
        self.code = code
        self.details = details


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One record of a dead-letter topic. What it says about itself (`describe()`) holds no
    personal data; `key`, `value` and `headers` are kept for a replay only (never shown)."""

    topic: str
    partition: int
    offset: int
    time: datetime | None
    source_topic: str | None
    source_partition: int | None
    source_offset: int | None
    consumer: str | None
    reason: str | None
    event_type: str | None
    event_id: str | None
    campus_id: str | None
    key: bytes | None = field(repr=False)
    value: bytes | None = field(repr=False)
    headers: tuple[tuple[str, bytes], ...] = field(repr=False)

    @property
    def position(self) -> str:
        """`partition:offset` in the dead-letter topic, as `--offsets` takes it."""
        return f"{self.partition}:{self.offset}"

    def describe(self, zone: tzinfo = UTC) -> dict[str, Any]:
        """What an operator may see (JSON-ready), times in `zone`."""
        return {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "time": self.time.astimezone(zone).isoformat() if self.time else None,
            "source_topic": self.source_topic,
            "source_partition": self.source_partition,
            "source_offset": self.source_offset,
            "consumer": self.consumer,
            "reason": self.reason,
            "event_type": self.event_type,
            "event_id": self.event_id,
            "campus_id": self.campus_id,
        }

    def replay_headers(self) -> list[tuple[str, bytes]]:
        """The original headers minus `x-dlq-*`, plus where the replay came from."""
        kept = [(k, v) for k, v in self.headers if not k.startswith(_DLQ_HEADER_PREFIX)]
        origin = f"{self.topic}/{self.partition}/{self.offset}".encode()
        return [*kept, (REPLAYED_FROM, origin)]


def parse_positions(spec: str) -> set[tuple[int, int]]:
    """`P:O[,P:O...]` as (partition, offset) pairs; refuses anything else."""
    positions = set()
    for part in spec.split(","):
        partition, sep, offset = part.strip().partition(":")
        if not (sep and partition.isdigit() and offset.isdigit()):
            raise DeadLetterRefusal("bad_offsets", spec=_printable(part.strip(), 40))
        positions.add((int(partition), int(offset)))
    return positions


def check_dead_letter_topic(name: str) -> None:
    """Refuse a name that is not a dead-letter topic (the tool reads nothing else)."""
    if not name.endswith(DLQ_SUFFIX):
        raise DeadLetterRefusal("not_dlq", topic=_printable(name, 200))


def select(
    letters: Sequence[DeadLetter],
    *,
    positions: set[tuple[int, int]] | None = None,
    consumer: str | None = None,
    reason: str | None = None,
) -> list[DeadLetter]:
    """The letters at `positions` (every one must exist), of `consumer`, whose reason contains
    `reason` (case-insensitive); all of them when nothing is given. A source record that
    several consumers dead-lettered is chosen once: replayed, every consumer of its topic
    reads it again, so a second copy would reach each of them twice (and a record with no
    event id is not deduplicated downstream)."""
    chosen = list(letters)
    if positions is not None:
        chosen = [x for x in chosen if (x.partition, x.offset) in positions]
        missing = positions - {(x.partition, x.offset) for x in chosen}
        if missing:
            listed = ",".join(f"{p}:{o}" for p, o in sorted(missing))
            raise DeadLetterRefusal("no_such_offsets", offsets=listed)
    if consumer is not None:
        chosen = [x for x in chosen if x.consumer == consumer]
    if reason is not None:
        chosen = [x for x in chosen if reason.casefold() in (x.reason or "").casefold()]
    return _one_per_source(chosen)


def _one_per_source(letters: list[DeadLetter]) -> list[DeadLetter]:
    seen: set[tuple[str, int, int]] = set()
    kept = []
    for letter in letters:
        topic, partition, offset = (
            letter.source_topic,
            letter.source_partition,
            letter.source_offset,
        )
        if topic and partition is not None and offset is not None:
            if (topic, partition, offset) in seen:
                continue
            seen.add((topic, partition, offset))
        kept.append(letter)
    return kept


def summarise(letters: Iterable[DeadLetter]) -> list[tuple[str, str, str, int]]:
    """(topic, consumer, reason, count), most frequent first."""
    counts = Counter((x.topic, x.consumer or "", x.reason or "") for x in letters)
    return [(t, c, r, n) for (t, c, r), n in counts.most_common()]


class DeadLetterLog:
    """Reads dead-letter topics from their beginning to their end now, in no consumer group
    (no offset is committed: reading changes nothing). Use as `async with`: entering it
    learns which topics the cluster shows this client, and their partitions."""

    def __init__(self, clients: KafkaClients) -> None:
        self._clients = clients
        # Made on the first read: one made and never started is garbage-collected with an
        # "Unclosed AIOKafkaConsumer" warning on the operator's terminal (a topic refused,
        # Kafka unreachable).
        self._consumer: AIOKafkaConsumer | None = None
        #: The partitions of every topic the cluster shows this client.
        self.partitions: dict[str, list[int]] = {}

    async def __aenter__(self) -> DeadLetterLog:
        admin = self._clients.admin(name="dlq")
        try:
            await admin.start()
            described = await admin.describe_topics()
        finally:
            await admin.close()
        self.partitions = {
            t["topic"]: sorted(p["partition"] for p in t["partitions"])
            for t in described
            if t["error_code"] == 0
        }
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    def check_exists(self, names: Iterable[str]) -> None:
        """Refuse topics the cluster does not have (or does not show this client)."""
        missing = sorted(set(names) - self.partitions.keys())
        if missing:
            raise DeadLetterRefusal("no_such_topic", topic=", ".join(missing))

    async def read(self, topic: str) -> list[DeadLetter]:
        """Every record of `topic` there is now, in partition and offset order."""
        self.check_exists([topic])
        if self._consumer is None:
            # Started only to read (stopping an idle aiokafka consumer at once can raise
            # CancelledError from its offset-reset task), and stopped even if start fails.
            self._consumer = self._clients.consumer(
                name="dlq", enable_auto_commit=False, auto_offset_reset="earliest"
            )
            await self._consumer.start()
        consumer = self._consumer
        assigned = [TopicPartition(topic, p) for p in self.partitions[topic]]
        consumer.assign(assigned)
        ends: dict[TopicPartition, int] = await consumer.end_offsets(assigned)
        await consumer.seek_to_beginning(*assigned)
        letters: list[DeadLetter] = []
        pending = {tp for tp in assigned if ends[tp] > 0}
        async with asyncio.timeout(READ_TIMEOUT_SECONDS):
            while pending:
                for tp in list(pending):
                    if await consumer.position(tp) >= ends[tp]:
                        pending.discard(tp)
                if not pending:
                    break
                batch = await consumer.getmany(*pending, timeout_ms=1000)
                for tp, records in batch.items():
                    letters.extend(_letter(r) for r in records if r.offset < ends[tp])
        return sorted(letters, key=lambda x: (x.partition, x.offset))


async def replay(clients: KafkaClients, letters: Sequence[DeadLetter]) -> int:
    """Put `letters` back on their source topics (key, value, headers as `replay_headers`),
    waiting for every acknowledgement (acks=all); returns how many were sent."""
    producer = clients.producer(linger_ms=5, name="dlq")
    try:
        await producer.start()
        sent = [
            await producer.send(x.source_topic, x.value, key=x.key, headers=x.replay_headers())
            for x in letters
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()
    return len(sent)


def check_replayable(letters: Iterable[DeadLetter], log: DeadLetterLog) -> None:
    """Refuse letters whose source topic is unnamed or absent."""
    for letter in letters:
        if not letter.source_topic:
            raise DeadLetterRefusal("no_source", offsets=letter.position)
    log.check_exists({x.source_topic for x in letters if x.source_topic})


def _letter(record: Any) -> DeadLetter:
    headers = tuple((str(k), bytes(v)) for k, v in (record.headers or ()))
    said = {k: v.decode("utf-8", "replace") for k, v in headers}
    envelope = _envelope(record.value)
    return DeadLetter(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        time=datetime.fromtimestamp(record.timestamp / 1000, UTC) if record.timestamp else None,
        source_topic=_header(said, DLQ_SOURCE_TOPIC, 250),
        source_partition=_number(said.get(DLQ_PARTITION)),
        source_offset=_number(said.get(DLQ_OFFSET)),
        consumer=_header(said, DLQ_CONSUMER, 200),
        reason=_header(said, DLQ_REASON, 1000),
        event_type=_text(envelope.get("type"), 200) or _header(said, "ce_type", 200),
        event_id=_text(envelope.get("id"), 200) or _header(said, "ce_id", 200),
        campus_id=_text(envelope.get("campus_id"), 64),
        key=record.key,
        value=record.value,
        headers=headers,
    )


def _envelope(value: bytes | None) -> dict[str, Any]:
    """The envelope's top level if the value parses as a JSON object (else nothing)."""
    try:
        parsed = json.loads(value or b"")
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _header(said: dict[str, str], name: str, limit: int) -> str | None:
    return _text(said.get(name), limit)


def _text(value: object, limit: int) -> str | None:
    return _printable(value, limit) if isinstance(value, str) and value else None


def _number(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


def _printable(text: str, limit: int) -> str:
    """No control characters (a header could carry terminal escapes), at most `limit`."""
    return "".join(c if c.isprintable() else "\ufffd" for c in text[:limit])
