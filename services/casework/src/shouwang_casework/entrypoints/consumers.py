"""Kafka consumers: triage's assessments and alerts open and feed cases.

The kit's consumer runtime commits a record's offset only after the campus transaction that
holds its effects and the `processed_events` claim has committed: a crash before the commit
redelivers the record, and the claim makes the redelivery a no-op. A record no retry can fix
(not an event of the expected type, or refused by a rule of the loop) goes to `<topic>.dlq`
with the reason, then the consumer goes on. A transient failure (the database away) rewinds
to the record and tries again after a pause, never skipping it; any other failure is tried
`CASEWORK_MAX_ATTEMPTS` times before the record is dead-lettered.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from shouwang_contracts.envelope import Envelope, Payload
from shouwang_contracts.events.notify import NotificationAcknowledged
from shouwang_contracts.events.triage import AlertEscalated, AlertRaised, AssessmentGraded
from shouwang_contracts.kafka import PoisonEvent, decode_event
from shouwang_contracts.topics import ALERTS, ASSESSMENTS, NOTIFICATIONS
from shouwang_servicekit.kafka.consumers import ConsumerObserver, Record, Retry, subscribe

from .. import metrics
from ..adapters.db import campus_transaction
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
Apply = Callable[[asyncpg.Connection, Envelope[Any], Casework], Awaitable[Any]]

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
    casework: Casework,
    record: Record,
    *,
    consumer: str,
    decode: Callable[[bytes], Envelope[Any]],
    apply: Apply,
) -> str:
    """Apply one record's event in its campus transaction, once per event id: `applied`,
    or `duplicate` when it was applied before. A refusal by the loop's rules is poison."""
    envelope = decode(record.value)
    try:
        async with campus_transaction(casework.pool, envelope.campus_id) as conn:
            if not await claim_event(
                conn, consumer=consumer, event_id=envelope.id, campus_id=envelope.campus_id
            ):
                return "duplicate"
            await apply(conn, envelope, casework)
    except CaseRuleViolation as exc:
        raise PoisonEvent(str(exc)) from exc
    return "applied"


async def _count(outcome: WarningOutcome, severity: str) -> None:
    if outcome.opened:
        metrics.CASES_OPENED.labels(severity).inc()


async def _assessment(conn: asyncpg.Connection, envelope: Envelope[Any], cw: Casework) -> None:
    outcome = await on_assessment(conn, envelope, cw.cipher)
    await _count(outcome, envelope.data.severity.value)


async def _alert(conn: asyncpg.Connection, envelope: Envelope[Any], cw: Casework) -> None:
    if isinstance(envelope.data, AlertRaised):
        outcome = await on_alert_raised(conn, envelope, cw.cipher)
    else:
        outcome = await on_alert_escalated(conn, envelope, cw.cipher)
    await _count(outcome, envelope.data.severity.value)


def register_case_consumers(casework: Casework) -> None:
    """Subscribe casework to assessments and alerts (one consumer group)."""

    async def assessments(record: Record) -> str:
        return await apply_once(
            casework,
            record,
            consumer=CASES_CONSUMER,
            decode=lambda raw: decode_event(raw, AssessmentGraded),
            apply=_assessment,
        )

    async def alerts(record: Record) -> str:
        return await apply_once(
            casework, record, consumer=CASES_CONSUMER, decode=decode_alert, apply=_alert
        )

    observer = EventsConsumed()
    for topic, handle, title, description in (
        (
            ASSESSMENTS,
            assessments,
            "casework.assessments",
            "Graded assessments of mild or worse open or feed the student's case.",
        ),
        (
            ALERTS,
            alerts,
            "casework.alerts",
            "Raised and escalated alerts land on the case and name its owner.",
        ),
    ):
        subscribe(
            casework.broker,
            topic,
            group_id=casework.settings.consumer_group,
            handle=handle,
            consumer=CASES_CONSUMER,
            retry=retry(casework),
            observer=observer,
            progress=metrics.PROGRESS,
            title=title,
            description=description,
        )


async def _link_acknowledgement(
    conn: asyncpg.Connection, envelope: Envelope[Any], cw: Casework
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
    (and `alert.acknowledged`, so triage stops escalating), by the HTTP path's rules."""

    async def notifications(record: Record) -> str:
        if decode_link_acknowledgement(record.value) is None:
            return "skipped"
        return await apply_once(
            casework,
            record,
            consumer=NOTIFICATIONS_CONSUMER,
            decode=lambda raw: decode_event(raw, NotificationAcknowledged),
            apply=_link_acknowledgement,
        )

    subscribe(
        casework.broker,
        NOTIFICATIONS,
        group_id=casework.settings.consumer_group,
        handle=notifications,
        consumer=NOTIFICATIONS_CONSUMER,
        retry=retry(casework),
        observer=EventsConsumed(),
        title="casework.notifications",
        description="Acknowledgements confirmed from a message's link, recorded as the person.",
    )
