"""Kafka consumers: one subscriber (and consumer group) per input topic.

Reports, individual screenings and the census each have their own consumer, so a 20,000-row
census in flight never queues ahead of a tier report. Offsets are committed only after the
effects' transaction committed (AckPolicy.NACK_ON_ERROR: a failure rewinds to the record);
poison records go to `<topic>.dlq` and the consumer goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeAlias
from zoneinfo import ZoneInfo

import asyncpg
from aiokafka import ConsumerRecord  # type: ignore[import-untyped]
from aiokafka.errors import KafkaError  # type: ignore[import-untyped]
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from shouwang_contracts.cooperative import TimeSlice
from shouwang_contracts.events.casework import AlertAcknowledged, CaseClosed, DirectoryEntry
from shouwang_contracts.events.intake import ReportSubmitted, ScreeningSubmitted
from shouwang_contracts.kafka import PoisonEvent, decode_event
from shouwang_contracts.topics import CASES, CENSUS, DIRECTORY, REPORTS, SCREENINGS

from .. import metrics
from ..adapters.batch import BatchStore
from ..adapters.kafka import observe_lag, send_to_dead_letter
from ..adapters.outbox import OutboxRelay
from ..adapters.repository import unit_of_work
from ..config import TriageSettings
from ..domain.evidence import ReportEvidence, ScreeningEvidence
from ..domain.policy import GradingPolicy
from ..service_layer.casework import acknowledge_alert, place_student, record_case_closed
from ..service_layer.grading import GradingInput, Lane, grade_inputs

logger = logging.getLogger("shouwang.triage.consumers")
Record: TypeAlias = ConsumerRecord[Any, Any]

# Failures worth retrying (the record is fine, a dependency is not); anything else about a
# record is treated as poison so one bad record can never wedge a partition.
TRANSIENT = (
    OSError,
    TimeoutError,
    KafkaError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.TransactionRollbackError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.OperatorInterventionError,
    # Two replicas (census and reports) raising the first alert of one student at once: the
    # loser retries and then sees the winner's alert.
    asyncpg.exceptions.UniqueViolationError,
)


class UrgentFirst:
    """Census work steps aside while a tier report or individual screening is being graded.

    The census is graded in batches on the same event loop; between small steps it awaits
    `yield_to_urgent`, which waits while any urgent handler runs. A report therefore never
    waits for a whole census batch, only for the step in progress.
    """

    def __init__(self) -> None:
        self._active = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @contextlib.asynccontextmanager
    async def urgent(self) -> AsyncIterator[None]:
        self._active += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._active -= 1
            if not self._active:
                self._idle.set()

    async def yield_to_urgent(self) -> None:
        await asyncio.sleep(0)
        await self._idle.wait()


@dataclass(frozen=True)
class DutyCycle:
    """Keeps a background lane busy for at most `share` of the wall time.

    After a batch that took `t` seconds the lane rests `t * (1/share - 1)`, at most
    `longest_rest`: a batch slowed by a database stall must not keep the consumer away from
    Kafka for minutes (its group would drop it) nor hold up a shutdown. The census uses it to
    leave cores and database time to tier reports while it grades 20,000 rows, even when it
    runs in replicas of its own that cannot see the reports.
    """

    share: float = 1.0
    longest_rest: float = 5.0

    async def rest_after(self, busy_seconds: float) -> None:
        if self.share >= 1.0 or busy_seconds <= 0:
            return
        rest = min(busy_seconds * (1 / self.share - 1), self.longest_rest)
        metrics.CENSUS_RESTED_SECONDS.inc(rest)
        await asyncio.sleep(rest)


@dataclass
class Triage:
    """What the consumers need: brokers, the pool, the policy, the relay and the settings."""

    broker: KafkaBroker
    pool: asyncpg.Pool
    policy: GradingPolicy
    relay: OutboxRelay
    settings: TriageSettings
    gate: UrgentFirst = field(default_factory=UrgentFirst)
    census_pace: DutyCycle = field(default_factory=DutyCycle)

    @property
    def zone(self) -> ZoneInfo:
        """The campus time zone: reasons date the earlier sheets they rest on in it."""
        return ZoneInfo(self.settings.timezone)


def report_input(record: Record) -> GradingInput:
    """Decode a tier report record (PoisonEvent if it is not one)."""
    envelope = decode_event(_value(record), ReportSubmitted)
    report = envelope.data
    evidence = ReportEvidence(
        report_id=report.report_id,
        reporter_ref=report.reporter_ref,
        reporter_role=report.reporter_role.value,
        signals=frozenset(s.value for s in report.signals),
        observed_at=report.observed_at,
        received_at=report.received_at,
    )
    return GradingInput(
        envelope.id,
        record.topic,
        envelope.campus_id,
        report.student_ref,
        envelope.traceparent,
        evidence,
        "urgent",
    )


def screening_input(record: Record, lane: Lane) -> GradingInput:
    """Decode a screening record, individual or census (PoisonEvent if it is not one)."""
    envelope = decode_event(_value(record), ScreeningSubmitted)
    screening = envelope.data
    evidence = ScreeningEvidence(
        screening_id=screening.screening_id,
        instrument=screening.instrument.value,
        items=tuple(screening.items),
        administered_at=screening.administered_at,
        received_at=envelope.time,
        behavior_recency=screening.behavior_recency.value if screening.behavior_recency else None,
        counseling_requested=screening.counseling_requested,
        unanswered=frozenset(screening.unanswered_items),
        unreadable=tuple(screening.unreadable_fields),
    )
    return GradingInput(
        envelope.id,
        record.topic,
        envelope.campus_id,
        screening.student_ref,
        envelope.traceparent,
        evidence,
        lane,
    )


def _value(record: Record) -> bytes:
    if not record.value:
        raise PoisonEvent("empty record value")
    return bytes(record.value)


async def grade_records(
    triage: Triage,
    records: Sequence[Record],
    decode: Callable[[Record], GradingInput],
    consumer: Any,
    pause: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Grade a batch of records in one transaction; poison records go to the dead-letter topic.

    If the batch fails for a reason other than a dependency being down, each record is retried
    alone so only the record that cannot be processed is dead-lettered.
    """
    items: list[tuple[Record, GradingInput]] = []
    held = TimeSlice()
    for record in records:
        if pause is not None and held.over():
            await pause()
            held.renew()
        observe_lag(consumer, record)
        try:
            items.append((record, decode(record)))
        except PoisonEvent as exc:
            await send_to_dead_letter(triage.broker, record, str(exc), _group(triage, record.topic))
    if not items:
        return
    try:
        await _grade_together(triage, [item for _, item in items], pause)
    except TRANSIENT:
        raise
    except Exception:
        if len(items) == 1:
            record, _ = items[0]
            logger.exception(
                "grading failed for %s[%d]@%d", record.topic, record.partition, record.offset
            )
            await send_to_dead_letter(
                triage.broker,
                record,
                "grading failed: internal error",
                _group(triage, record.topic),
            )
            return
        for record, item in items:
            await grade_records(triage, [record], _decoded(item), consumer, pause)


def _decoded(item: GradingInput) -> Callable[[Record], GradingInput]:
    def decode(_record: Record) -> GradingInput:
        return item

    return decode


async def _grade_together(
    triage: Triage, items: list[GradingInput], pause: Callable[[], Awaitable[None]] | None
) -> None:
    started = time.perf_counter()
    now = datetime.now(UTC)
    async with unit_of_work(triage.pool) as store:
        outcomes = await grade_inputs(
            BatchStore(store.conn), triage.policy, items, now, pause, triage.zone
        )
    committed = datetime.now(UTC)
    for lane in {item.lane for item in items}:
        triage.relay.wake(lane)
    elapsed = (time.perf_counter() - started) / len(items)
    for outcome in outcomes:
        item = outcome.item
        metrics.GRADED.labels(outcome.level.id, item.trigger).inc()
        metrics.GRADING_SECONDS.labels(item.trigger).observe(elapsed)
        metrics.INPUT_TO_COMMIT_SECONDS.labels(item.trigger).observe(
            max((committed - item.evidence.received_at).total_seconds(), 0.0)
        )
        if outcome.alert_id:
            metrics.ALERTS_RAISED.labels(outcome.level.id).inc()
        if item.lane == "urgent":
            logger.info(
                "graded %s for student_ref=%s: %s (alert: %s)",
                item.trigger,
                item.student_ref,
                outcome.level.id,
                outcome.action.value,
            )


async def handle_case_event(triage: Triage, record: Record) -> None:
    """Acknowledgements stop escalation; closed cases feed the history rule; others ignored."""
    try:
        kind = json.loads(_value(record)).get("type")
    except (ValueError, AttributeError, PoisonEvent) as exc:
        raise PoisonEvent(f"not a JSON event: {type(exc).__name__}") from exc
    if kind == AlertAcknowledged.EVENT_TYPE:
        envelope = decode_event(_value(record), AlertAcknowledged)
        async with unit_of_work(triage.pool) as store:
            severity = await acknowledge_alert(store, envelope, record.topic)
        if severity:
            metrics.ACKNOWLEDGED.labels(severity).inc()
            logger.info("alert %s acknowledged; escalation stops", envelope.data.alert_id)
    elif kind == CaseClosed.EVENT_TYPE:
        closed = decode_event(_value(record), CaseClosed)
        async with unit_of_work(triage.pool) as store:
            await record_case_closed(store, closed, record.topic)


async def handle_directory_entry(triage: Triage, record: Record) -> None:
    """Materialise a placement; tombstones (compaction deletes) are skipped."""
    if record.value is None:
        return
    envelope = decode_event(bytes(record.value), DirectoryEntry)
    async with unit_of_work(triage.pool) as store:
        await place_student(store, envelope)


def _group(triage: Triage, topic: str) -> str:
    return f"{triage.settings.group_prefix}.{topic}"


async def _guard(triage: Triage, record: Record, handle: Callable[[], Any]) -> None:
    """Dead-letter poison, back off and rewind on a dependency failure.

    Any other failure is a record this code cannot process: it is dead-lettered too, so one
    record never wedges the partition in a retry loop.
    """
    try:
        await handle()
    except PoisonEvent as exc:
        await send_to_dead_letter(triage.broker, record, str(exc), _group(triage, record.topic))
    except TRANSIENT:
        logger.warning(
            "dependency failure on %s; will retry the record", record.topic, exc_info=True
        )
        await asyncio.sleep(triage.settings.retry_backoff_seconds)
        raise
    except Exception as exc:
        logger.exception(
            "processing failed for %s[%d]@%d", record.topic, record.partition, record.offset
        )
        await send_to_dead_letter(
            triage.broker,
            record,
            f"processing failed: {type(exc).__name__}",
            _group(triage, record.topic),
        )


def register_consumers(triage: Triage) -> None:
    """Subscribe one consumer group per input topic."""
    broker, settings = triage.broker, triage.settings
    common: dict[str, Any] = {
        "ack_policy": AckPolicy.NACK_ON_ERROR,
        "auto_offset_reset": "earliest",
    }

    def graded_topic(
        topic: str, decode: Callable[[Record], GradingInput], max_records: int, urgent: bool
    ) -> None:
        # FastStream's batch subscriber sleeps `batch_timeout_ms` after an empty poll, so the
        # urgent topics poll in short steps: a report waits ~20 ms, not ~200 ms, to be picked up.
        # Batches: whatever queued up while the previous batch was graded goes in one
        # transaction and one offset commit, so a burst never builds a queue of commits; with
        # nothing queued a batch is a single record, handled at once.
        async def on_records(message: KafkaMessage) -> None:
            records = message.raw_message
            batch = tuple(records) if isinstance(records, tuple | list) else (records,)
            try:
                if urgent:
                    async with triage.gate.urgent():
                        await grade_records(triage, batch, decode, message.consumer)
                else:
                    began = time.perf_counter()
                    await grade_records(
                        triage, batch, decode, message.consumer, triage.gate.yield_to_urgent
                    )
                    await triage.census_pace.rest_after(time.perf_counter() - began)
            except TRANSIENT:
                logger.warning(
                    "dependency failure on %s; will retry the batch", topic, exc_info=True
                )
                await asyncio.sleep(settings.retry_backoff_seconds)
                raise

        broker.subscriber(
            topic,
            group_id=_group(triage, topic),
            batch=True,
            max_records=max_records,
            batch_timeout_ms=settings.urgent_poll_ms if urgent else 200,
            # The census fetches in small responses: parsing one runs on the event loop, and
            # a multi-megabyte response would hold a report's handler up while it is parsed.
            fetch_max_bytes=50 * 1024 * 1024 if urgent else 256 * 1024,
            max_partition_fetch_bytes=1024 * 1024 if urgent else 64 * 1024,
            ack_policy=AckPolicy.NACK_ON_ERROR,
            auto_offset_reset="earliest",
        )(on_records)

    chosen = settings.consumer_set
    if "reports" in chosen:
        graded_topic(REPORTS, report_input, settings.urgent_batch_size, urgent=True)
    if "screenings" in chosen:
        graded_topic(
            SCREENINGS,
            lambda r: screening_input(r, "urgent"),
            settings.urgent_batch_size,
            urgent=True,
        )
    if "census" in chosen:
        graded_topic(
            CENSUS, lambda r: screening_input(r, "bulk"), settings.census_batch_size, urgent=False
        )

    async def on_case_event(message: KafkaMessage) -> None:
        record = message.raw_message
        assert not isinstance(record, tuple)
        await _guard(triage, record, lambda: handle_case_event(triage, record))

    async def on_directory_entry(message: KafkaMessage) -> None:
        record = message.raw_message
        assert not isinstance(record, tuple)
        await _guard(triage, record, lambda: handle_directory_entry(triage, record))

    if "cases" in chosen:
        broker.subscriber(CASES, group_id=_group(triage, CASES), **common)(on_case_event)
    if "directory" in chosen:
        broker.subscriber(DIRECTORY, group_id=_group(triage, DIRECTORY), **common)(
            on_directory_entry
        )
