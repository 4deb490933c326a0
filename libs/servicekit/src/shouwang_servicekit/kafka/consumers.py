"""The consumer runtime: every Kafka consumer of every service handles failures this way.

- A record's offset is committed only after its handler returned, that is after its effects
  are durable (the handler commits its transaction first); a batch's after the whole batch.
- A record the handler refuses with `PoisonEvent` (or that its decoder cannot read) is copied
  to `<topic>.dlq` with the reason headers (`DeadLetters`), and the consumer goes on.
- A failure `is_transient` says is the infrastructure's (database or broker away) rewinds to
  the record and tries it again after a back-off, as long as it takes, never skipping it.
- Any other failure is retried the same way up to `Retry.attempts` times, then the record is
  dead-lettered with the failure's type as the reason (never its text: no personal data).
- A failed batch (other than transiently) is handled again record by record, so only the
  record that cannot be handled is dead-lettered.

`subscribe` registers a handler of one record at a time, `subscribe_batch` one of what queued
up (decoded first, record by record). Both take a `ConsumerObserver`, which hears of
partition assignments and revocations, of every record received and of every outcome, and a
`ConsumerProgress` (kafka.progress), which measures every consumer's lag and counts outcomes
the same way in every service.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar

from aiokafka import ConsumerRebalanceListener, TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage
from shouwang_contracts.kafka import PoisonEvent

from ..backoff import Backoff
from ..cooperative import TimeSlice
from ..transient import is_transient
from .deadletters import DeadLetters
from .progress import ConsumerProgress, Watched

logger = logging.getLogger("shouwang.kafka.consumers")

#: An aiokafka `ConsumerRecord` (topic, partition, offset, key, value, headers).
Record: TypeAlias = Any
T = TypeVar("T")

#: What a handler made of a record, for the observer: e.g. "applied", "duplicate", "skipped".
#: Test-only: a consumer group member's session timeout, in ms, for every consumer of the
#: service (its heartbeat a third of it). Production never sets it and keeps aiokafka's
#: defaults (10 s session, 3 s heartbeat). Tests that `kill -9` a service set it to the
#: broker's floor (`group.min.session.timeout.ms`, 6 s by default), so a group gives the dead
#: member's partitions to its restarted successor 4 s sooner.
SESSION_TIMEOUT_ENV = "SHOUWANG_TEST_KAFKA_SESSION_TIMEOUT_MS"

HANDLED = "handled"
DEAD_LETTERED = "dead_lettered"
RETRIED = "retried"


class ConsumerObserver:
    """What one consumer reports as it runs, for the service's metrics. Every method does
    nothing here; a service overrides what it measures."""

    def assigned(self, group: str, partitions: set[TopicPartition]) -> None:
        """The group gave this consumer `partitions` (after a rebalance)."""

    def revoked(self, group: str, partitions: set[TopicPartition]) -> None:
        """The group took `partitions` away (a rebalance begins)."""

    def received(self, consumer: Any, record: Record) -> None:
        """A record arrived, before it is handled; `consumer` is aiokafka's (watermarks)."""

    def handled(self, record: Record, outcome: str) -> None:
        """A record's outcome: the handler's result, `dead_lettered` or `retried`."""


class _Tracked(ConsumerObserver):
    """The service's observer, and the kit's progress metrics beside it."""

    def __init__(self, inner: ConsumerObserver, progress: ConsumerProgress) -> None:
        self.inner = inner
        self.progress = progress
        self.watched: Watched | None = None  # set once the subscriber exists

    def assigned(self, group: str, partitions: set[TopicPartition]) -> None:
        if self.watched is not None:
            self.progress.assigned(self.watched, partitions)
        self.inner.assigned(group, partitions)

    def revoked(self, group: str, partitions: set[TopicPartition]) -> None:
        if self.watched is not None:
            self.progress.revoked(self.watched, partitions)
        self.inner.revoked(group, partitions)

    def received(self, consumer: Any, record: Record) -> None:
        self.inner.received(consumer, record)

    def handled(self, record: Record, outcome: str) -> None:
        if self.watched is not None:
            self.progress.handled(self.watched, record.topic, outcome)
        self.inner.handled(record, outcome)


def _observed(
    observer: ConsumerObserver | None, progress: ConsumerProgress | None
) -> ConsumerObserver:
    inner = observer or ConsumerObserver()
    return _Tracked(inner, progress) if progress is not None else inner


def _follow(watcher: ConsumerObserver, group: str, topics: Sequence[str], subscriber: Any) -> None:
    if isinstance(watcher, _Tracked):
        watcher.watched = watcher.progress.watch(group, topics, subscriber)


def group_timing() -> dict[str, int]:
    """The session timeout and heartbeat of every consumer group member: aiokafka's defaults,
    unless a test set `SESSION_TIMEOUT_ENV`."""
    raw = os.environ.get(SESSION_TIMEOUT_ENV, "").strip()
    if not raw:
        return {}
    try:
        session_ms = int(raw)
    except ValueError:
        raise ValueError(f"{SESSION_TIMEOUT_ENV} must be a number of ms, not {raw!r}") from None
    if session_ms < 1000:
        raise ValueError(f"{SESSION_TIMEOUT_ENV} must be at least 1000 ms, not {session_ms}")
    return {"session_timeout_ms": session_ms, "heartbeat_interval_ms": session_ms // 3}


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, observer: ConsumerObserver, group: str) -> None:
        self._observer = observer
        self._group = group

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self._observer.revoked(self._group, set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self._observer.assigned(self._group, set(assigned))


@dataclass(frozen=True)
class Retry:
    """How a consumer tries again after a failed record: pauses from `first_pause` doubling
    to `longest_pause`; a failure not known to be transient is dead-lettered at the
    `attempts`-th (None: retried as long as it fails, as for transient ones)."""

    first_pause: float = 0.5
    longest_pause: float = 30.0
    attempts: int | None = 5


def event_type(record: Record) -> str | None:
    """The record's `ce_type` header (the event type, for routing without parsing), if any."""
    for name, value in record.headers or ():
        if name == "ce_type":
            return bytes(value).decode() if value is not None else None
    return None


async def _raw_body(message: StreamMessage[Any]) -> bytes:
    # Decoding is the handler's (`decode_event`): a malformed record must reach the handler
    # and the dead-letter topic, not fail inside the framework.
    return bytes(message.body)


class _Runtime:
    """One subscription's failure handling: back-off, attempts, dead letters, outcomes."""

    def __init__(
        self, broker: KafkaBroker, consumer: str, retry: Retry, observer: ConsumerObserver
    ) -> None:
        self.retry = retry
        self.observer = observer
        self.backoff = Backoff(retry.first_pause, retry.longest_pause)
        self.dead_letters = DeadLetters(broker, consumer)
        # Records are handled one at a time and a failure rewinds to the failing record, so
        # only the failing record's count is kept: bounded, and reset by any other record.
        self._failing: tuple[tuple[str, int, int], int] | None = None

    def succeeded(self) -> None:
        self.backoff.reset()
        self._failing = None

    async def dead_letter(self, record: Record, reason: str) -> None:
        """Dead-letter `record`; if the dead-letter topic cannot take it, back off and raise
        (the record comes again)."""
        try:
            await self.dead_letters.send(record, reason)
        except Exception as exc:
            pause = await self._pause()
            logger.warning(
                "dead-lettering %s[%d]@%d failed; retrying in %.1f s",
                record.topic,
                record.partition,
                record.offset,
                pause,
                exc_info=exc,
            )
            self._retried([record])
            raise
        self.observer.handled(record, DEAD_LETTERED)

    async def failed(self, records: Sequence[Record], exc: Exception) -> None:
        """A failure handling `records` (one, unless it was transient): back off and raise
        again to rewind, or dead-letter the record once its attempts are spent."""
        topic = records[0].topic
        if is_transient(exc):
            pause = await self._pause()
            logger.warning(
                "dependency failure on %s; retrying in %.1f s", topic, pause, exc_info=exc
            )
            self._retried(records)
            raise exc
        (record,) = records
        key = (record.topic, record.partition, record.offset)
        attempt = self._failing[1] + 1 if self._failing and self._failing[0] == key else 1
        self._failing = (key, attempt)
        logger.error(
            "handling failed (attempt %d) for %s[%d]@%d",
            attempt,
            record.topic,
            record.partition,
            record.offset,
            exc_info=exc,
        )
        if self.retry.attempts is not None and attempt >= self.retry.attempts:
            await self.dead_letter(record, f"processing failed ({attempt}x): {type(exc).__name__}")
            self.succeeded()
            return
        await self._pause()
        self._retried(records)
        raise exc

    async def _pause(self) -> float:
        return await self.backoff.wait()

    def _retried(self, records: Sequence[Record]) -> None:
        for record in records:
            self.observer.handled(record, RETRIED)


def subscribe(
    broker: KafkaBroker,
    topic: str,
    *,
    group_id: str,
    handle: Callable[[Record], Awaitable[str | None]],
    consumer: str | None = None,
    retry: Retry = Retry(),
    observer: ConsumerObserver | None = None,
    progress: ConsumerProgress | None = None,
    title: str | None = None,
    description: str | None = None,
    **tuning: Any,
) -> None:
    """Consume `topic` in group `group_id`, one record at a time, with `handle`.

    `handle(record)` makes its effects durable (its own transaction) and returns what it made
    of the record (reported to the observer), or raises: `PoisonEvent` dead-letters the
    record at once, other failures follow `retry`. `consumer` names it in dead letters
    (`x-dlq-consumer`; default the group). `tuning` goes to FastStream's subscriber (fetch
    sizes and the like). With `progress`, the consumer's lag and outcomes are measured
    (kafka.progress).
    """
    watcher = _observed(observer, progress)
    runtime = _Runtime(broker, consumer or group_id, retry, watcher)

    async def on_record(message: KafkaMessage) -> None:
        record: Record = message.raw_message
        watcher.received(message.consumer, record)
        try:
            outcome = await handle(record)
        except PoisonEvent as exc:
            await runtime.dead_letter(record, str(exc))
        except Exception as exc:
            await runtime.failed([record], exc)
        else:
            watcher.handled(record, outcome or HANDLED)
        runtime.succeeded()

    subscriber = broker.subscriber(
        topic,
        group_id=group_id,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        decoder=_raw_body,
        listener=_Rebalance(watcher, group_id),
        title=title,
        description=description,
        **{**group_timing(), **tuning},
    )
    subscriber(on_record)
    _follow(watcher, group_id, (topic,), subscriber)


def subscribe_batch(
    broker: KafkaBroker,
    topic: str | Sequence[str],
    *,
    group_id: str,
    decode: Callable[[Record], T],
    handle: Callable[[list[T]], Awaitable[Sequence[str] | None]],
    max_records: int,
    poll_ms: int = 200,
    consumer: str | None = None,
    retry: Retry = Retry(),
    observer: ConsumerObserver | None = None,
    progress: ConsumerProgress | None = None,
    pause: Callable[[], Awaitable[None]] | None = None,
    rest_after: Callable[[float], Awaitable[None]] | None = None,
    **tuning: Any,
) -> None:
    """Consume `topic` in group `group_id`, whatever queued up (at most `max_records`) at once.

    Each record is decoded by `decode` (`PoisonEvent`: dead-lettered); `handle(items)` makes
    the effects of all of them durable together (one transaction, one offset commit) and may
    return one outcome per item, in order, for the observer (else each is `handled`). With
    nothing queued a batch is one record, handled at once; an idle consumer looks again every
    `poll_ms`. `pause` (awaited between time slices of decoding) lets other work on the event
    loop go first; `rest_after(seconds)` is awaited after each batch with the time it took
    (a duty cycle). The rest is as in `subscribe`.

    `topic` may name several topics: one consumer then reads them all, and a batch holds
    what queued up on any of them (partition by partition, each in order), for a handler
    whose records of different topics must not run concurrently (e.g. the same rows).
    """
    topics = (topic,) if isinstance(topic, str) else tuple(topic)
    watcher = _observed(observer, progress)
    runtime = _Runtime(broker, consumer or group_id, retry, watcher)

    async def handle_items(items: list[tuple[Record, T]]) -> None:
        try:
            outcomes = await handle([item for _, item in items])
        except Exception as exc:
            if len(items) > 1 and not is_transient(exc):
                # Something in the batch cannot be handled: find it, one record at a time.
                for one in items:
                    await handle_items([one])
            elif isinstance(exc, PoisonEvent):
                await runtime.dead_letter(items[0][0], str(exc))
            else:
                await runtime.failed([record for record, _ in items], exc)
            return
        if outcomes is None or len(outcomes) != len(items):
            outcomes = [HANDLED] * len(items)
        for (record, _), outcome in zip(items, outcomes, strict=True):
            watcher.handled(record, outcome)

    async def on_records(message: KafkaMessage) -> None:
        began = time.perf_counter()
        raw = message.raw_message
        records = tuple(raw) if isinstance(raw, tuple | list) else (raw,)
        items: list[tuple[Record, T]] = []
        held = TimeSlice()
        for record in records:
            if pause is not None and held.over():
                await pause()
                held.renew()
            watcher.received(message.consumer, record)
            try:
                items.append((record, decode(record)))
            except PoisonEvent as exc:
                await runtime.dead_letter(record, str(exc))
        if items:
            await handle_items(items)
        runtime.succeeded()
        if rest_after is not None:
            await rest_after(time.perf_counter() - began)

    subscriber = broker.subscriber(
        *topics,
        group_id=group_id,
        batch=True,
        max_records=max_records,
        batch_timeout_ms=poll_ms,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        listener=_Rebalance(watcher, group_id),
        **{**group_timing(), **tuning},
    )
    subscriber(on_records)
    _follow(watcher, group_id, topics, subscriber)
