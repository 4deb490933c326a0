"""Kafka consumers: triage's assessments and alerts open and feed cases.

Each consumer applies whatever queued up as one batch: every event in order, each claimed in
`processed_events` and applied under its own campus, all in one transaction, then one offset
commit (a commit per record held casework near 33 warnings/s). The students of a batch are
locked first, in one global order, so the assessments' and the alerts' batches never
deadlock. The kit's consumer runtime commits the offsets only after that transaction has
committed: a crash before the commit redelivers the records, and the claims make the
redelivery a no-op. A batch that fails for the work's own reason is applied again record by
record, so only the record at fault is dead-lettered. A record no retry can fix
(not an event of the expected type, or refused by a rule of the loop) goes to `<topic>.dlq`
with the reason, then the consumer goes on. A transient failure (the database away) rewinds
to the record and tries again after a pause, never skipping it; any other failure is tried
`CASEWORK_MAX_ATTEMPTS` times before the record is dead-lettered.
"""

from __future__ import annotations

import json
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

from .. import metrics
from ..adapters.cases import lock_students
from ..adapters.db import campus_batch, campus_transaction
from ..adapters.outbox import claim_event
from ..container import Casework
from ..domain.guards import CaseRuleViolation
from ..service_layer.loop import acknowledge_alert_from_link
from ..service_layer.warnings import (
    WarningOutcome,
    on_alert_escalated,
    on_alert_raised,
    on_assessment,
)

CASES_CONSUMER = "casework.cases"
NOTIFICATIONS_CONSUMER = "casework.notifications"
#: Applies one event: (connection, event, casework, whether the event's student is locked).
Apply = Callable[[asyncpg.Connection, Envelope[Any], Casework, bool], Awaitable[Any]]

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
    casework: Casework, envelopes: Sequence[Envelope[Any]], *, consumer: str, apply: Apply
) -> list[str]:
    """Apply a batch's events in one transaction, in order, each once per event id (as
    `apply_once` does one): `applied` or `duplicate` per event. Every event's student is
    locked first, in the global order of `lock_students`; a refusal by the loop's rules is
    poison (the runtime then applies the batch record by record to find it)."""
    outcomes: list[str] = []
    try:
        async with campus_batch(casework.pool) as batch:
            await lock_students(batch.conn, [(e.campus_id, e.data.student_ref) for e in envelopes])
            for envelope in envelopes:
                conn = await batch.enter(envelope.campus_id)
                if not await claim_event(
                    conn, consumer=consumer, event_id=envelope.id, campus_id=envelope.campus_id
                ):
                    outcomes.append("duplicate")
                    continue
                await apply(conn, envelope, casework, True)
                outcomes.append("applied")
    except CaseRuleViolation as exc:
        raise PoisonEvent(str(exc)) from exc
    return outcomes


async def _count(outcome: WarningOutcome, severity: str) -> None:
    if outcome.opened:
        metrics.CASES_OPENED.labels(severity).inc()


async def _assessment(
    conn: asyncpg.Connection, envelope: Envelope[Any], cw: Casework, locked: bool
) -> None:
    outcome = await on_assessment(conn, envelope, cw.cipher, student_locked=locked)
    await _count(outcome, envelope.data.severity.value)


async def _alert(
    conn: asyncpg.Connection, envelope: Envelope[Any], cw: Casework, locked: bool
) -> None:
    if isinstance(envelope.data, AlertRaised):
        outcome = await on_alert_raised(conn, envelope, cw.cipher, student_locked=locked)
    else:
        outcome = await on_alert_escalated(conn, envelope, cw.cipher, student_locked=locked)
    await _count(outcome, envelope.data.severity.value)


def register_case_consumers(casework: Casework) -> None:
    """Subscribe casework to assessments and alerts (one consumer group), in batches."""
    settings = casework.settings

    def assessment(record: Record) -> Envelope[Any]:
        if record.value is None:
            raise PoisonEvent("a tombstone (no value) on the assessments topic")
        return decode_event(record.value, AssessmentGraded)

    def alert(record: Record) -> Envelope[Any]:
        return decode_alert(record.value)

    async def assessments(envelopes: list[Envelope[Any]]) -> list[str]:
        return await apply_batch(casework, envelopes, consumer=CASES_CONSUMER, apply=_assessment)

    async def alerts(envelopes: list[Envelope[Any]]) -> list[str]:
        return await apply_batch(casework, envelopes, consumer=CASES_CONSUMER, apply=_alert)

    observer = EventsConsumed()
    for topic, decode, handle, title, description in (
        (
            ASSESSMENTS,
            assessment,
            assessments,
            "casework.assessments",
            "Graded assessments of mild or worse open or feed the student's case.",
        ),
        (
            ALERTS,
            alert,
            alerts,
            "casework.alerts",
            "Raised and escalated alerts land on the case and name its owner.",
        ),
    ):
        subscribe_batch(
            casework.broker,
            topic,
            group_id=settings.consumer_group,
            decode=decode,
            handle=handle,
            max_records=settings.consumer_batch_size,
            poll_ms=settings.consumer_poll_ms,
            consumer=CASES_CONSUMER,
            retry=retry(casework),
            observer=observer,
            progress=metrics.PROGRESS,
            title=title,
            description=description,
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
