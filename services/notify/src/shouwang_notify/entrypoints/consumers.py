"""What notify does with each record of the topics it consumes.

Handlers make their effects durable in one transaction, claiming the event id first
(`processed_events`), so a record Kafka delivers again changes nothing; they return what they
made of the record for the consumer runtime's observer. Poison raises `PoisonEvent`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from shouwang_contracts.envelope import Envelope, Payload
from shouwang_contracts.events.casework import (
    AlertAcknowledged,
    BreakGlassOpened,
    CaseAssigned,
    CaseClosed,
    CaseOpened,
    CaseSeverityChanged,
    CaseTransitioned,
    FamilyContactDecided,
    StaffListingChanged,
    StudentErased,
    StudentRouting,
)
from shouwang_contracts.kafka import PoisonEvent, decode_event
from shouwang_servicekit.kafka.consumers import event_type

from .. import metrics
from ..adapters import inbox
from ..adapters.db import claim_event, worker_transaction
from ..adapters.inbox import Landing
from ..container import Notify
from ..service_layer.alerts import ALERT_EVENTS, alert_notice
from ..service_layer.cases import apply_case_event, apply_directory
from ..service_layer.policy import CRITICAL_PRIORITY, PRIORITY

CASE_EVENTS: dict[str, type[Payload]] = {
    cls.EVENT_TYPE: cls
    for cls in (
        CaseOpened,
        CaseAssigned,
        CaseSeverityChanged,
        CaseTransitioned,
        CaseClosed,
        FamilyContactDecided,
        AlertAcknowledged,
        BreakGlassOpened,
        StudentErased,
        StaffListingChanged,
    )
}
APPLIED, DUPLICATE, SKIPPED = "applied", "duplicate", "skipped"


def _value(record: Any) -> bytes:
    if not record.value:
        raise PoisonEvent("empty record value")
    return bytes(record.value)


def _type_of(raw: bytes) -> str | None:
    try:
        kind = json.loads(raw).get("type")
    except (ValueError, AttributeError) as exc:
        raise PoisonEvent(f"not a JSON event: {type(exc).__name__}") from exc
    return kind if isinstance(kind, str) else None


def decode_alert(record: Any) -> Landing | None:
    """An alert record, validated, ready to land in the inbox; None for an event type notify
    does not act on."""
    raw = _value(record)
    payload_cls = ALERT_EVENTS.get(event_type(record) or _type_of(raw) or "")
    if payload_cls is None:
        return None
    notice = alert_notice(decode_event(raw, payload_cls))
    return Landing(
        notice.event_id, notice.event_type, notice.campus_id, PRIORITY[notice.severity], raw
    )


async def on_alerts(notify: Notify, alerts: list[Landing | None]) -> list[str]:
    """Alerts that queued up on Kafka land in the inbox in one transaction (each event id
    once), and the planners are woken: they plan them the gravest first, so a critical alert
    behind a burst of moderate ones is not planned after them. Returns what became of each
    (in the order given)."""
    landing = [a for a in alerts if a is not None]
    async with worker_transaction(notify.pool) as conn:
        landed = await inbox.land(conn, landing)
    applied = set(landed)
    outcomes = []
    for alert in alerts:
        if alert is None:
            outcomes.append(SKIPPED)
        elif alert.event_id in landed:
            landed.discard(alert.event_id)  # the same event twice in one batch: once
            outcomes.append(APPLIED)
        else:
            metrics.DEDUPLICATED.labels("all", alert.event_type).inc()
            outcomes.append(DUPLICATE)
    if any(a.priority == CRITICAL_PRIORITY for a in landing if a.event_id in applied):
        # A critical alert landed: routine planning and sending step aside until it is sent.
        notify.planner.precedence.hold()
    if APPLIED in outcomes:
        notify.wake_planner()
    return outcomes


async def on_alert(notify: Notify, record: Any) -> str:
    """One alert record: lands it in the inbox once."""
    (outcome,) = await on_alerts(notify, [decode_alert(record)])
    return outcome


def decode_case_event(record: Any) -> Envelope[Payload] | None:
    """A cases-topic record, validated; None for an event type notify does not act on."""
    raw = _value(record)
    payload_cls = CASE_EVENTS.get(_type_of(raw) or "")
    if payload_cls is None:
        return None
    return decode_event(raw, payload_cls)


async def on_case_events(notify: Notify, events: Sequence[Envelope[Payload] | None]) -> list[str]:
    """Case events, family-contact decisions and acknowledgements, in order, in one
    transaction (each event id claimed once). Returns what became of each."""
    outcomes = []
    async with worker_transaction(notify.pool) as conn:
        for envelope in events:
            if envelope is None:
                outcomes.append(SKIPPED)
            elif not await claim_event(conn, "notify.cases", envelope.id, envelope.campus_id):
                outcomes.append(DUPLICATE)
            else:
                await apply_case_event(
                    conn, notify.cipher, notify.policy, envelope, datetime.now(UTC)
                )
                outcomes.append(APPLIED)
    for envelope, outcome in zip(events, outcomes, strict=True):
        if envelope is not None and outcome == DUPLICATE:
            metrics.DEDUPLICATED.labels("all", envelope.type).inc()
    if APPLIED in outcomes:
        notify.wake_dispatcher()
    return outcomes


async def on_case_event(notify: Notify, record: Any) -> str:
    """One cases-topic record (see `on_case_events`)."""
    (outcome,) = await on_case_events(notify, [decode_case_event(record)])
    return outcome


async def on_directory_entry(notify: Notify, record: Any) -> str:
    """Who is responsible for a student; a compaction tombstone is skipped."""
    if record.value is None:
        return SKIPPED
    envelope = decode_event(bytes(record.value), StudentRouting)
    async with worker_transaction(notify.pool) as conn:
        await apply_directory(conn, envelope)
    return APPLIED
