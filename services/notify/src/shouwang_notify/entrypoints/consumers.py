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
    CaseOwnerCleared,
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
from ..adapters import inbox, state
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
        CaseOwnerCleared,
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


#: Case events that only keep the case picture and queue a notice for the owner, which goes
#: out in a bundle minutes later anyway (`case_batch_seconds`). A census makes most of the
#: topic of these, and a batch of nothing else may step aside while critical work is under
#: way. Every other event (a consent decided or withdrawn, an acknowledgement, an erasure, a
#: closing, staff leaving, a severity change that may reach a family, the notices that go at
#: once) makes its batch go at once.
ROUTINE_CASE_EVENTS = frozenset(
    {CaseOpened.EVENT_TYPE, CaseAssigned.EVENT_TYPE, CaseTransitioned.EVENT_TYPE}
)
#: Case events applied per transaction: a batch's rows (a case each) are locked only until its
#: slice commits, so an urgent planner locking a student's case waits for a few events at
#: most, never for a whole batch.
CASE_EVENTS_PER_TRANSACTION = 20


def routine_only(events: Sequence[Envelope[Payload] | None]) -> bool:
    """Whether every event of the batch is routine (or one notify does not act on)."""
    return all(e is None or e.type in ROUTINE_CASE_EVENTS for e in events)


async def on_case_batch(notify: Notify, events: Sequence[Envelope[Payload] | None]) -> list[str]:
    """What queued up on the cases topic: a batch of routine events first steps aside while
    critical alerts are landed and planned (for at most `Precedence.seconds`, so the notices
    are slowed during a burst, never stopped); any other batch is applied at once. A lone
    event never waits: the runtime retries a failed batch record by record, and 200 records
    stepping aside in turn would hold the topic for minutes."""
    if len(events) > 1 and routine_only(events):
        await notify.planner.precedence.yield_to_critical()
    return await on_case_events(notify, events)


async def on_case_events(notify: Notify, events: Sequence[Envelope[Payload] | None]) -> list[str]:
    """Case events, family-contact decisions and acknowledgements, in order, a few per
    transaction (each event id claimed once). Returns what became of each."""
    outcomes: list[str] = []
    for first in range(0, len(events), CASE_EVENTS_PER_TRANSACTION):
        async with worker_transaction(notify.pool) as conn:
            # The slice's cases, locked up front in the planners' order: locked event by
            # event, two cases could be taken in the order a planner takes them reversed.
            await state.lock_cases(
                conn, _case_ids(events[first : first + CASE_EVENTS_PER_TRANSACTION])
            )
            for envelope in events[first : first + CASE_EVENTS_PER_TRANSACTION]:
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


def _case_ids(events: Sequence[Envelope[Payload] | None]) -> list[str]:
    """The cases these events are about."""
    return sorted({e.data.case_id for e in events if e is not None and hasattr(e.data, "case_id")})


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
