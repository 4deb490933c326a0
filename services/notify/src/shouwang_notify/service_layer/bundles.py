"""Digests, batched case notices and grouped oversight notices: a person's due items go out
as one message."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

import asyncpg
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.events.notify import RecipientKind
from shouwang_contracts.vocabulary import Severity

from ..adapters import bundle_items, contacts_repo, queue, state, unreached
from ..domain.contacts import ON_DUTY_REF, staff_chain
from ..domain.routing import Template
from . import bursts
from .policy import CASE_PRIORITY, PRIORITY, NotifyPolicy

_TEMPLATES = {
    "digest": Template.DIGEST,
    "case": Template.CASE_NOTICES,
    "informed": Template.ALERTS_INFORMED,
    bursts.KIND: Template.ALERTS_BURST,
}
_EVENT_TYPES = {
    "digest": "shouwang.notify.digest",
    "case": "shouwang.notify.case_notices",
    "informed": "shouwang.notify.alerts_informed",
    bursts.KIND: bursts.EVENT_TYPE,
}


async def flush_bundles(
    conn: asyncpg.Connection,
    cipher: NoteCipher,
    policy: NotifyPolicy,
    now: datetime,
    limit: int = 200,
) -> int:
    """Turn every due bundle into one queued message; returns how many were queued."""
    queued = 0
    for bundle in await bundle_items.due_bundles(conn, now, limit):
        await bundle_items.mark_bundled(conn, bundle.ids, now)
        if bundle.kind in _OF_ALERTS:
            # An alert acknowledged while it was held drops out, for the one asked to act
            # and for the overseer alike (an overseer told of an alert already taken may send
            # a second person to the same student); nothing is left: no message.
            bundle = await _unacknowledged(conn, bundle)
            if not bundle.items:
                continue
        contacts = await contacts_repo.staff_contacts(
            conn, cipher, bundle.campus_id, [bundle.person_ref]
        )
        contact = contacts.get(bundle.person_ref)
        source_event_id = f"{bundle.kind}:{bundle.campus_id}:{bundle.person_ref}:{bundle.ids[0]}"
        channel = staff_chain(contact, policy.channels).first() if contact else None
        if contact is None or channel is None:
            await unreached.record_unreached(
                conn,
                bundle.campus_id,
                source_event_id,
                None,
                bundle.student_ref,
                _recipient_kind(bundle),
                bundle.role,
                bundle.person_ref,
                "no_contact",
            )
            continue
        # A bundle of alerts names each alert once, in its latest state (one raised and
        # escalated within the window is one line); a burst still carries every event.
        shown = (
            bursts.latest_per_alert(bundle.items, bundle.sources)
            if bundle.kind in _OF_ALERTS
            else bundle.items
        )
        items = sorted(shown, key=_order)
        context: dict[str, Any] = {
            "role": bundle.role.value if bundle.role else None,
            "items": items,
            "count": len(items),
        }
        if bundle.kind == bursts.KIND:
            context["grades"] = bursts.count_by_grade(items)
        new = queue.NewDelivery(
            campus_id=bundle.campus_id,
            source_event_id=source_event_id,
            source_event_type=_EVENT_TYPES[bundle.kind],
            source_time=bundle.first_time,
            # A bundle may span students: it names one only to key its outcome events.
            student_ref=bundle.student_ref,
            recipient_kind=_recipient_kind(bundle),
            recipient_ref=bundle.person_ref,
            recipient_role=bundle.role,
            channel=channel,
            template=_TEMPLATES[bundle.kind].value,
            language=contact.language,
            context=context,
            priority=_priority(bundle.kind, items),
            # A digest waits for the quiet hours to end; it is never urgent. Grouped severe
            # or critical alerts go when their window ends, quiet hours or not, as each
            # would have alone.
            not_before=now
            if (bundle.kind in _URGENT and _any_severe(bundle.items)) or not contact.quiet_hours
            else contact.quiet_hours.ends_after(now.astimezone(policy.zone)),
        )
        queued += int(await queue.enqueue(conn, new))
        if bundle.kind == bursts.KIND:
            # Each alert is recorded as delivered (or failed) through this one message.
            carried = bursts.riders(bundle.items, bundle.sources, new)
            await queue.enqueue_many(conn, carried, carried_by=source_event_id)
    return queued


#: Bundles of severe alerts that go when their window ends, quiet hours or not.
_URGENT = frozenset({"informed", bursts.KIND})
#: Bundles whose items are alerts, one line each.
_OF_ALERTS = _URGENT


def _recipient_kind(bundle: bundle_items.Bundle) -> RecipientKind:
    return RecipientKind.ON_DUTY if bundle.person_ref == ON_DUTY_REF else RecipientKind.STAFF


async def _unacknowledged(
    conn: asyncpg.Connection, bundle: bundle_items.Bundle
) -> bundle_items.Bundle:
    """The bundle without the alerts someone acknowledged meanwhile."""
    done = await state.acknowledged_alerts(
        conn, bundle.campus_id, [str(item["alert_id"]) for item in bundle.items]
    )
    kept = [n for n, item in enumerate(bundle.items) if item["alert_id"] not in done]
    return replace(
        bundle,
        ids=[bundle.ids[n] for n in kept],
        items=[bundle.items[n] for n in kept],
        sources=[bundle.sources[n] for n in kept],
    )


def _any_severe(items: list[dict[str, object]]) -> bool:
    return any(
        item.get("severity") in (Severity.SEVERE.value, Severity.CRITICAL.value) for item in items
    )


def _order(item: dict[str, object]) -> tuple[int, str]:
    """Gravest first (grouped alerts), then by when each is due."""
    severity = item.get("severity")
    rank = PRIORITY[Severity(severity)] if isinstance(severity, str) and "alert_id" in item else 0
    return rank, str(item.get("due") or item.get("deadline") or "")


def _priority(kind: str, items: list[dict[str, object]]) -> int:
    """Grouped severe alerts go ahead of routine messages, never into the urgent lanes: the
    owners of each were told alone, at once. A burst of alerts to act on goes as its gravest
    alert would have alone."""
    if kind == bursts.KIND:
        return min(PRIORITY[Severity(str(item["severity"]))] for item in items)
    if kind != "informed" or not _any_severe(items):
        return CASE_PRIORITY
    return PRIORITY[Severity.SEVERE]
