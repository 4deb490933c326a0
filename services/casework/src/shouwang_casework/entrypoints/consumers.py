"""Kafka consumers: triage's assessments and alerts open and feed cases.

Each consumer applies whatever queued up as one batch: every event in order, each claimed in
`processed_events` and applied under its own campus, all in one transaction, then one offset
commit (a commit per record held casework near 33 warnings/s). The warnings of a campus are
applied set-wise (`service_layer.warning_sets`): a dozen statements for the batch, not about
ten per event. The students of a batch are locked first, in one global order, so the
assessments' and the alerts' batches never deadlock. The kit's consumer runtime commits the
offsets only after that transaction has committed: a crash before the commit redelivers the
records, and the claims make the redelivery a no-op. A batch that fails for the work's own
reason is applied again record by record, so only the record at fault is dead-lettered. A
record no retry can fix (not an event of the expected type, or refused by a rule of the loop)
goes to `<topic>.dlq` with the reason, then the consumer goes on. A transient failure (the
database away) rewinds to the record and tries again after a pause, never skipping it; any
other failure is tried `CASEWORK_MAX_ATTEMPTS` times before the record is dead-lettered.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
from shouwang_contracts.envelope import Envelope, Payload
from shouwang_contracts.events.notify import NotificationAcknowledged
from shouwang_contracts.events.triage import AlertEscalated, AlertRaised, AssessmentGraded
from shouwang_contracts.kafka import PoisonEvent, decode_event
from shouwang_contracts.topics import ALERTS, ASSESSMENTS, NOTIFICATIONS
from shouwang_servicekit.kafka.consumers import (
    ConsumerObserver,
    Record,
    Retry,
    subscribe_batch,
)
from shouwang_servicekit.transient import is_transient

from .. import metrics
from ..adapters.cases import lock_students
from ..adapters.db import campus_batch, campus_transaction
from ..adapters.outbox import claim_event, claim_events
from ..container import Casework
from ..domain.guards import CaseRuleViolation
from ..service_layer.loop import acknowledge_alert_from_link
from ..service_layer.warning_sets import apply_warning_set
from ..service_layer.warnings import WarningOutcome, on_warning, writes_case

CASES_CONSUMER = "casework.cases"
NOTIFICATIONS_CONSUMER = "casework.notifications"
#: Applies one event: (connection, event, casework, whether the event's student is locked).
Apply = Callable[[asyncpg.Connection, Envelope[Any], Casework, bool], Awaitable[Any]]
#: Applies one campus's claimed events of a batch together, their students locked.
ApplySet = Callable[[asyncpg.Connection, list[Envelope[Any]], Casework], Awaitable[Any]]

_ALERT_TYPES: dict[str, type[Payload]] = {
    AlertRaised.EVENT_TYPE: AlertRaised,
    AlertEscalated.EVENT_TYPE: AlertEscalated,
}


def retry(casework: Casework) -> Retry:
    """Casework's consumers retry after 0.4 s, doubling up to 12.8 s."""
    return Retry(first_pause=0.4, longest_pause=12.8, attempts=casework.settings.max_attempts)


class EventsConsumed(ConsumerObserver):
    """`casework_events_consumed_total`: applied, duplicate, dead_lettered, retried."""

    def handled(self, record: Record, outcome: str) -> None:
        metrics.EVENTS_CONSUMED.labels(record.topic, outcome).inc()


def decode_alert(raw: bytes) -> Envelope[Any]:
    """Decode a record of the alerts topic, which carries raised and escalated alerts."""
    try:
        event_type = json.loads(raw).get("type")
    except (ValueError, AttributeError, TypeError) as exc:  # TypeError: a tombstone (None)
        raise PoisonEvent(f"not a JSON object: {exc}") from exc
    payload_cls = _ALERT_TYPES.get(event_type)
    if payload_cls is None:
        raise PoisonEvent(f"unexpected event type on the alerts topic: {event_type!r}")
    return decode_event(raw, payload_cls)


async def apply_once(
    casework: Casework, envelope: Envelope[Any], *, consumer: str, apply: Apply
) -> str:
    """Apply one event in its campus transaction, once per event id: `applied`, or
    `duplicate` when it was applied before. A refusal by the loop's rules is poison."""
    try:
        async with campus_transaction(casework.pool, envelope.campus_id) as conn:
            if not await claim_event(
                conn, consumer=consumer, event_id=envelope.id, campus_id=envelope.campus_id
            ):
                return "duplicate"
            await apply(conn, envelope, casework, False)
    except CaseRuleViolation as exc:
        raise PoisonEvent(str(exc)) from exc
    return "applied"


async def apply_batch(
    casework: Casework,
    envelopes: Sequence[Envelope[Any]],
    *,
    consumer: str,
    apply: Apply,
    apply_set: ApplySet | None = None,
) -> list[str]:
    """Apply a batch's events in one transaction, each once per event id (as `apply_once`
    does one): `applied` or `duplicate` per event, in the batch's order.

    The students whose cases the batch may write (`writes_case`) are locked first, in the
    global order of `lock_students`. Then campus by campus, in the campuses' order (a
    student belongs to one campus, so each student's events keep their order): the campus's
    event ids are claimed in one statement (`claim_events`, in the ids' order: the events of
    students left unlocked are claimed in one global order too), and the claimed events
    applied in the batch's order: with `apply_set`, a campus's claimed events (two or more)
    are applied by it together, in one go. A refusal by the loop's rules is
    poison (the runtime then applies the batch record by record to find it)."""
    outcomes = ["duplicate"] * len(envelopes)
    by_campus: dict[str, list[int]] = {}
    for position, envelope in enumerate(envelopes):
        by_campus.setdefault(envelope.campus_id, []).append(position)
    try:
        async with campus_batch(casework.pool) as batch:
            await lock_students(
                batch.conn,
                [(e.campus_id, e.data.student_ref) for e in envelopes if writes_case(e.data)],
            )
            for campus_id, positions in sorted(by_campus.items()):
                conn = await batch.enter(campus_id)
                claimed = await claim_events(
                    conn,
                    consumer=consumer,
                    campus_id=campus_id,
                    event_ids=[envelopes[p].id for p in positions],
                )
                chosen = []
                for position in positions:
                    if envelopes[position].id in claimed:
                        # A second copy in the batch is a duplicate.
                        claimed.discard(envelopes[position].id)
                        chosen.append(position)
                if apply_set is not None and len(chosen) > 1:
                    await apply_set(conn, [envelopes[p] for p in chosen], casework)
                else:
                    for position in chosen:
                        await apply(conn, envelopes[position], casework, True)
                for position in chosen:
                    outcomes[position] = "applied"
    except CaseRuleViolation as exc:
        raise PoisonEvent(str(exc)) from exc
    return outcomes


def warnings_first(envelopes: Sequence[Envelope[Any]]) -> list[int]:
    """The order a batch of both topics is applied in: its assessments, then its alerts, each
    in the order they came. A report's assessment is graded before its alert is raised, so a
    student's case is opened (or fed) by the assessment and then owned by the alert, the same
    way whichever partition the consumer happened to read first."""
    return sorted(
        range(len(envelopes)),
        key=lambda n: not isinstance(envelopes[n].data, AssessmentGraded),
    )


def _lane(envelope: Envelope[Any], lanes: int) -> int:
    # By student: a student's events stay in one transaction, in their order.
    return zlib.crc32(f"{envelope.campus_id}:{envelope.data.student_ref}".encode()) % lanes


async def apply_warnings(
    casework: Casework,
    envelopes: Sequence[Envelope[Any]],
    *,
    consumer: str = CASES_CONSUMER,
    lanes: int = 1,
) -> list[str]:
    """Apply what queued up on the assessments and the alerts topics as one batch,
    assessments first (`warnings_first`): one outcome per envelope, in the order given.

    The students are shared among up to `lanes` transactions applied at once (`apply_batch`
    each: one lock of its students, one claim per campus), so their round trips overlap.
    No two lanes share a student or an event, so they never wait for each other. If a lane
    fails, the others may have committed: the runtime applies the batch again (record by
    record unless the failure was transient) and their claims make those events duplicates.
    """
    order = warnings_first(envelopes)
    shares: list[list[int]] = [[] for _ in range(max(lanes, 1))]
    for n in order:
        shares[_lane(envelopes[n], len(shares))].append(n)
    shares = [share for share in shares if share]
    done = await asyncio.gather(
        *(
            apply_batch(
                casework,
                [envelopes[n] for n in share],
                consumer=consumer,
                apply=_warning,
                apply_set=_warning_set,
            )
            for share in shares
        ),
        return_exceptions=True,
    )
    failures = [result for result in done if isinstance(result, BaseException)]
    if failures:
        # A transient failure (the database away) rewinds the whole batch: raise it first.
        raise next((f for f in failures if is_transient(f)), failures[0])
    outcomes = [""] * len(envelopes)
    for share, results in zip(shares, done, strict=True):
        assert not isinstance(results, BaseException)
        for n, outcome in zip(share, results, strict=True):
            outcomes[n] = outcome
    return outcomes


def _count(outcome: WarningOutcome, severity: str) -> None:
    if outcome.opened:
        metrics.CASES_OPENED.labels(severity).inc()


async def _warning(
    conn: asyncpg.Connection, envelope: Envelope[Any], cw: Casework, locked: bool
) -> None:
    outcome = await on_warning(conn, envelope, cw.cipher, student_locked=locked)
    _count(outcome, envelope.data.severity.value)


async def _warning_set(
    conn: asyncpg.Connection, envelopes: list[Envelope[Any]], cw: Casework
) -> None:
    outcomes = await apply_warning_set(conn, envelopes, cw.cipher)
    for envelope, outcome in zip(envelopes, outcomes, strict=True):
        _count(outcome, envelope.data.severity.value)


def decode_warning(record: Record) -> Envelope[Any]:
    """A record of the assessments or the alerts topic, by the topic it came from."""
    if record.topic == ALERTS:
        return decode_alert(record.value)
    if record.value is None:
        raise PoisonEvent("a tombstone (no value) on the assessments topic")
    return decode_event(record.value, AssessmentGraded)


def register_case_consumers(casework: Casework) -> None:
    """Subscribe casework to assessments and alerts with one consumer of both topics.

    A report's assessment and alert arrive together about the same student. Two consumers
    (one per topic) locked the same students and took turns, each waiting out the other's
    transaction: the batch's student lock was casework's costliest statement by time, and
    its queue grew under a census. One consumer applies what queued up on both topics as one
    batch (`apply_warnings`), so the students are locked once per batch and nobody in this
    process waits for them. Both topics are keyed by the student and have as many partitions,
    so a group of several casework replicas gives each the same partitions of both (the range
    assignor): a student's warnings still meet in one replica."""
    settings = casework.settings

    async def warnings(envelopes: list[Envelope[Any]]) -> list[str]:
        return await apply_warnings(casework, envelopes, lanes=settings.consumer_lanes)

    subscribe_batch(
        casework.broker,
        (ASSESSMENTS, ALERTS),
        group_id=settings.consumer_group,
        decode=decode_warning,
        handle=warnings,
        max_records=settings.consumer_batch_size,
        poll_ms=settings.consumer_poll_ms,
        consumer=CASES_CONSUMER,
        retry=retry(casework),
        observer=EventsConsumed(),
        progress=metrics.PROGRESS,
        title="casework.warnings",
        description="Graded assessments of mild or worse open or feed the student's case;"
        " raised and escalated alerts land on it and name its owner.",
    )


async def _link_acknowledgement(
    conn: asyncpg.Connection, envelope: Envelope[Any], cw: Casework, locked: bool
) -> None:
    ack = envelope.data
    await acknowledge_alert_from_link(
        conn,
        cw.cipher,
        campus_id=envelope.campus_id,
        alert_id=ack.alert_id,
        person_ref=ack.person_ref,
        role=ack.role,
        traceparent=envelope.traceparent,
    )


def decode_link_acknowledgement(raw: bytes) -> Envelope[Any] | None:
    """`notification.acknowledged` from the notifications topic; None for its other events
    (delivery outcomes), which casework does not act on."""
    try:
        event_type = json.loads(raw).get("type")
    except (ValueError, AttributeError, TypeError) as exc:
        raise PoisonEvent(f"not a JSON object: {exc}") from exc
    if event_type != NotificationAcknowledged.EVENT_TYPE:
        return None
    return decode_event(raw, NotificationAcknowledged)


def register_notification_consumer(casework: Casework) -> None:
    """Acknowledgements confirmed from a message's link become casework's acknowledgements
    (and `alert.acknowledged`, so triage stops escalating), by the HTTP path's rules.

    The topic mostly carries delivery outcomes, which are skipped: batches spare them an
    offset commit each. Acknowledgements are few and each is applied in its own transaction
    (they lock their student as they go, not in the batches' global order)."""
    settings = casework.settings

    async def notifications(acks: list[Envelope[Any] | None]) -> list[str]:
        outcomes = []
        for ack in acks:
            if ack is None:
                outcomes.append("skipped")
                continue
            outcomes.append(
                await apply_once(
                    casework,
                    ack,
                    consumer=NOTIFICATIONS_CONSUMER,
                    apply=_link_acknowledgement,
                )
            )
        return outcomes

    subscribe_batch(
        casework.broker,
        NOTIFICATIONS,
        group_id=settings.consumer_group,
        decode=lambda record: decode_link_acknowledgement(record.value),
        handle=notifications,
        max_records=settings.consumer_batch_size,
        poll_ms=settings.consumer_poll_ms,
        consumer=NOTIFICATIONS_CONSUMER,
        retry=retry(casework),
        observer=EventsConsumed(),
        title="casework.notifications",
        description="Acknowledgements confirmed from a message's link, recorded as the person.",
    )
