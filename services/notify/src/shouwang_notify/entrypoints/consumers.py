"""What notify does with each record of the topics it consumes.

Handlers make their effects durable in one transaction, claiming the event id first
(`processed_events`), so a record Kafka delivers again changes nothing; they return what they
made of the record for the consumer runtime's observer. Poison raises `PoisonEvent`.
"""

from __future__ import annotations

import json
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
    StudentRouting,
)
from shouwang_contracts.events.triage import AlertEscalated, AlertRaised
from shouwang_contracts.kafka import PoisonEvent, decode_event

from .. import metrics
from ..adapters.db import claim_event, worker_transaction
from ..container import Notify
from ..domain.routing import AlertNotice, FollowUpAsk
from ..service_layer.alerts import plan_alert
from ..service_layer.cases import apply_case_event, apply_directory
from ..service_layer.policy import PRIORITY

ALERT_EVENTS: dict[str, type[Payload]] = {
    AlertRaised.EVENT_TYPE: AlertRaised,
    AlertEscalated.EVENT_TYPE: AlertEscalated,
}
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


def alert_notice(envelope: Envelope[Any]) -> AlertNotice:
    """The alert as routing needs it: who, how grave, by when, and what else is asked."""
    data = envelope.data
    occurred = (
        getattr(data, "raised_at", None) or getattr(data, "escalated_at", None) or envelope.time
    )
    return AlertNotice(
        event_id=envelope.id,
        event_type=envelope.type,
        campus_id=envelope.campus_id,
        alert_id=data.alert_id,
        student_ref=data.student_ref,
        severity=data.severity,
        owner_role=data.owner_role,
        inform_roles=tuple(data.inform_roles),
        ack_deadline=data.ack_deadline,
        occurred_at=occurred,
        escalation_level=data.escalation_level,
        inform_external=tuple(data.inform_external),
        attempt=data.realert_attempt,
        on_duty=data.notify_on_duty,
        follow_ups=tuple(
            FollowUpAsk(f.task.value, f.assigned_role, f.due_at) for f in data.follow_up_tasks
        ),
        incomplete=data.incomplete_sheet,
    )


def decode_alert(record: Any) -> AlertNotice | None:
    """An alert record as routing needs it; None for an event type notify does not act on."""
    raw = _value(record)
    payload_cls = ALERT_EVENTS.get(_type_of(raw) or "")
    if payload_cls is None:
        return None
    return alert_notice(decode_event(raw, payload_cls))


async def on_alerts(notify: Notify, notices: list[AlertNotice | None]) -> list[str]:
    """Alerts that queued up, in one transaction, the gravest first (a critical alert behind a
    burst of moderate ones is planned, and so sent, before them). Each is planned once per
    event id; returns what became of each (in the order given)."""
    outcomes = [SKIPPED if n is None else "" for n in notices]
    order = sorted(
        (i for i, n in enumerate(notices) if n is not None),
        key=lambda i: PRIORITY[notices[i].severity],  # type: ignore[union-attr]
    )
    now = datetime.now(UTC)
    async with worker_transaction(notify.pool) as conn:
        for i in order:
            notice = notices[i]
            assert notice is not None
            if not await claim_event(conn, "notify.alerts", notice.event_id, notice.campus_id):
                metrics.DEDUPLICATED.labels("all", notice.event_type).inc()
                outcomes[i] = DUPLICATE
                continue
            await plan_alert(conn, notify.cipher, notify.policy, notice, now)
            outcomes[i] = APPLIED
    notify.wake_dispatcher()
    return outcomes


async def on_alert(notify: Notify, record: Any) -> str:
    """One alert record: queue its messages once."""
    (outcome,) = await on_alerts(notify, [decode_alert(record)])
    return outcome


async def on_case_event(notify: Notify, record: Any) -> str:
    """Case events, family-contact decisions and acknowledgements."""
    raw = _value(record)
    payload_cls = CASE_EVENTS.get(_type_of(raw) or "")
    if payload_cls is None:
        return SKIPPED
    envelope = decode_event(raw, payload_cls)
    async with worker_transaction(notify.pool) as conn:
        if not await claim_event(conn, "notify.cases", envelope.id, envelope.campus_id):
            metrics.DEDUPLICATED.labels("all", envelope.type).inc()
            return DUPLICATE
        await apply_case_event(conn, notify.cipher, notify.policy, envelope, datetime.now(UTC))
    notify.wake_dispatcher()
    return APPLIED


async def on_directory_entry(notify: Notify, record: Any) -> str:
    """Who is responsible for a student; a compaction tombstone is skipped."""
    if record.value is None:
        return SKIPPED
    envelope = decode_event(bytes(record.value), StudentRouting)
    async with worker_transaction(notify.pool) as conn:
        await apply_directory(conn, envelope)
    return APPLIED
