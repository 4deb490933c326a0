"""Kafka consumers: one subscriber (and consumer group) per input topic.

Reports, individual screenings and the census each have their own consumer, so a 20,000-row
census in flight never queues ahead of a tier report. The kit's consumer runtime commits
offsets only after the effects' transaction committed, retries a dependency's failure after a
back-off, and sends a record that cannot be graded to `<topic>.dlq` with the reason; the
consumer goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events.casework import (
    AlertAcknowledged,
    CaseClosed,
    StudentErased,
    StudentRouting,
)
from shouwang_contracts.events.intake import ReportSubmitted, ScreeningSubmitted
from shouwang_contracts.kafka import PoisonEvent, decode_event
from shouwang_contracts.topics import CASES, CENSUS, DIRECTORY, REPORTS, SCREENINGS
from shouwang_servicekit.kafka.consumers import (
    Record,
    Retry,
    event_type,
    subscribe,
    subscribe_batch,
)

from .. import metrics
from ..adapters.batch import BatchStore, StudentKey
from ..adapters.repository import unit_of_work
from ..container import Triage
from ..domain.evidence import ReportEvidence, ScreeningEvidence
from ..service_layer.casework import acknowledge_alert, place_student, record_case_closed
from ..service_layer.erasure import apply_erasure
from ..service_layer.grading import GradingInput, Lane, grade_inputs

logger = logging.getLogger("shouwang.triage.consumers")


class UrgentFirst:
    """Census work steps aside while a tier report or individual screening is being graded,
    unless that grading waits for the census.

    The census is graded in batches on the same event loop; between small steps it awaits
    `yield_to_urgent`, which waits while any urgent handler runs. A report therefore never
    waits for a whole census batch, only for the step in progress. But a census batch grades
    in one transaction holding its students' open alerts locked (`BatchStore.begin`), and a
    report about one of those students waits for that lock, that is for the census to commit.
    So the census steps aside only for urgent work about students outside its batch. It once
    stepped aside for any: the two waited for each other for good, the report was never
    graded and every later report queued behind it (the e2e demo's second term in CI).

    Nor does it step aside for longer than `longest_wait` at a time: with replicas, urgent
    work here may wait for another replica's census, which may be stepping aside for work
    waiting for this one's. Urgent grading takes milliseconds; one still running after
    `longest_wait` is waiting for something, and the census going on ends the wait.
    """

    def __init__(self, longest_wait: float = 2.0) -> None:
        self._grading: list[frozenset[StudentKey]] = []
        self._changed = asyncio.Event()
        self._longest_wait = longest_wait

    @contextlib.asynccontextmanager
    async def urgent(self, students: Iterable[StudentKey]) -> AsyncIterator[None]:
        """Urgent work about `students` runs within the block."""
        grading = frozenset(students)
        self._grading.append(grading)
        self._wake()
        try:
            yield
        finally:
            self._grading.remove(grading)
            self._wake()

    async def yield_to_urgent(self, holding: Collection[StudentKey] = frozenset()) -> None:
        """Let urgent work run first: wait until none runs, or until some is about a student
        in `holding` (the census batch's, whose locks that work may be waiting for)."""
        await asyncio.sleep(0)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._longest_wait):
                while self._grading and all(g.isdisjoint(holding) for g in self._grading):
                    await self._changed.wait()

    def _wake(self) -> None:
        # Waiters hold the event they awaited: set it, and later waits take a fresh one.
        self._changed.set()
        self._changed = asyncio.Event()


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
        channel=report.channel.value,
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
    elapsed = (time.perf_counter() - started) / len(items)
    for outcome in outcomes:
        item = outcome.item
        metrics.campus_known(item.campus_id)
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


async def grade_urgent(triage: Triage, gate: UrgentFirst, items: list[GradingInput]) -> None:
    """Grade a batch of tier reports (or individual screenings) at once, in the urgent lane."""
    async with gate.urgent(item.key for item in items):
        await _grade_together(triage, items, None)


async def grade_census(triage: Triage, gate: UrgentFirst, items: list[GradingInput]) -> None:
    """Grade a batch of census rows, stepping aside between time slices for urgent work
    about other students (`UrgentFirst`)."""
    students = frozenset(item.key for item in items)
    await _grade_together(triage, items, lambda: gate.yield_to_urgent(students))


CaseEvent = Envelope[AlertAcknowledged] | Envelope[CaseClosed] | Envelope[StudentErased]


def case_event(record: Record) -> CaseEvent | None:
    """An acknowledgement, a closed case or an erasure from the cases topic; None for its
    other events (most of them: opened, assigned, ...), which triage does not use."""
    kind = event_type(record)
    if kind is None:  # no `ce_type` header: the body says
        try:
            kind = json.loads(_value(record)).get("type")
        except (ValueError, AttributeError, PoisonEvent) as exc:
            raise PoisonEvent(f"not a JSON event: {type(exc).__name__}") from exc
    if kind == AlertAcknowledged.EVENT_TYPE:
        return decode_event(_value(record), AlertAcknowledged)
    if kind == CaseClosed.EVENT_TYPE:
        return decode_event(_value(record), CaseClosed)
    if kind == StudentErased.EVENT_TYPE:
        return decode_event(_value(record), StudentErased)
    return None


async def apply_case_event(triage: Triage, envelope: CaseEvent, topic: str) -> None:
    """Acknowledgements stop escalation; closed cases feed the history rule; an erasure on
    request erases the student's evidence and grade. Each in its own transaction, once per
    event id."""
    if isinstance(envelope.data, AlertAcknowledged):
        async with unit_of_work(triage.pool) as store:
            severity = await acknowledge_alert(store, envelope, topic)
        if severity:
            metrics.ACKNOWLEDGED.labels(severity).inc()
            logger.info("alert %s acknowledged; escalation stops", envelope.data.alert_id)
    elif isinstance(envelope.data, StudentErased):
        async with unit_of_work(triage.pool) as store:
            await apply_erasure(store, envelope, topic)
    else:
        async with unit_of_work(triage.pool) as store:
            await record_case_closed(store, envelope, topic)


async def handle_directory_entry(triage: Triage, record: Record) -> None:
    """Materialise a placement; tombstones (compaction deletes) are skipped."""
    if record.value is None:
        return
    envelope = decode_event(bytes(record.value), StudentRouting)
    async with unit_of_work(triage.pool) as store:
        await place_student(store, envelope)


def _group(triage: Triage, topic: str) -> str:
    return f"{triage.settings.group_prefix}.{topic}"


def register_consumers(triage: Triage) -> None:
    """Subscribe one consumer group per input topic (those `TRIAGE_CONSUMERS` chose)."""
    broker, settings = triage.broker, triage.settings
    gate = UrgentFirst()
    census_pace = DutyCycle(settings.census_duty_cycle)
    # A record whose grading fails for another reason than a dependency is dead-lettered at
    # once: nothing suggests a second try would grade it.
    pause = settings.retry_backoff_seconds
    retry = Retry(first_pause=pause, longest_pause=pause, attempts=1)

    def graded_topic(
        topic: str, decode: Callable[[Record], GradingInput], max_records: int, urgent: bool
    ) -> None:
        async def handle(items: list[GradingInput]) -> None:
            await (grade_urgent if urgent else grade_census)(triage, gate, items)

        # Batches: whatever queued up while the previous batch was graded goes in one
        # transaction and one offset commit, so a burst never builds a queue of commits; with
        # nothing queued a batch is a single record, handled at once. FastStream's batch
        # subscriber sleeps its poll time after an empty poll, so the urgent topics poll in
        # short steps: a report waits ~20 ms, not ~200 ms, to be picked up.
        subscribe_batch(
            broker,
            topic,
            group_id=_group(triage, topic),
            decode=decode,
            handle=handle,
            max_records=max_records,
            poll_ms=settings.urgent_poll_ms if urgent else 200,
            retry=retry,
            progress=metrics.PROGRESS,
            pause=None if urgent else gate.yield_to_urgent,
            rest_after=None if urgent else census_pace.rest_after,
            # The census fetches in small responses: parsing one runs on the event loop, and
            # a multi-megabyte response would hold a report's handler up while it is parsed.
            fetch_max_bytes=50 * 1024 * 1024 if urgent else 256 * 1024,
            max_partition_fetch_bytes=1024 * 1024 if urgent else 64 * 1024,
        )

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

    async def on_case_events(events: list[CaseEvent | None]) -> list[str]:
        for envelope in events:
            if envelope is not None:
                await apply_case_event(triage, envelope, CASES)
        return ["skipped" if envelope is None else "handled" for envelope in events]

    if "cases" in chosen:
        # In batches: the topic carries every case event of the loop, and a per-record offset
        # commit for each one triage skips cost the broker and this process more than the
        # few it applies (an acknowledgement waits at most the poll).
        subscribe_batch(
            broker,
            CASES,
            group_id=_group(triage, CASES),
            decode=case_event,
            handle=on_case_events,
            max_records=settings.urgent_batch_size,
            poll_ms=100,
            retry=retry,
            progress=metrics.PROGRESS,
        )

    async def on_directory_entry(record: Record) -> None:
        await handle_directory_entry(triage, record)

    if "directory" in chosen:
        subscribe(
            broker,
            DIRECTORY,
            group_id=_group(triage, DIRECTORY),
            handle=on_directory_entry,
            retry=retry,
            progress=metrics.PROGRESS,
        )
