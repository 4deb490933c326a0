"""Digests, batched case notices and grouped oversight notices: a person's due items go out
as one message."""

from __future__ import annotations

from datetime import datetime

import asyncpg
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.events.notify import RecipientKind
from shouwang_contracts.vocabulary import Severity

from ..adapters import bundle_items, contacts_repo, queue, unreached
from ..domain.contacts import staff_chain
from ..domain.routing import Template
from .policy import CASE_PRIORITY, PRIORITY, NotifyPolicy

_TEMPLATES = {
    "digest": Template.DIGEST,
    "case": Template.CASE_NOTICES,
    "informed": Template.ALERTS_INFORMED,
}
_EVENT_TYPES = {
    "digest": "shouwang.notify.digest",
    "case": "shouwang.notify.case_notices",
    "informed": "shouwang.notify.alerts_informed",
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
                RecipientKind.STAFF,
                bundle.role,
                bundle.person_ref,
                "no_contact",
            )
            continue
        items = sorted(bundle.items, key=_order)
        new = queue.NewDelivery(
            campus_id=bundle.campus_id,
            source_event_id=source_event_id,
            source_event_type=_EVENT_TYPES[bundle.kind],
            source_time=bundle.first_time,
            # A bundle may span students: it names one only to key its outcome events.
            student_ref=bundle.student_ref,
            recipient_kind=RecipientKind.STAFF,
            recipient_ref=bundle.person_ref,
            recipient_role=bundle.role,
            channel=channel,
            template=_TEMPLATES[bundle.kind].value,
            language=contact.language,
            context={"role": bundle.role.value, "items": items, "count": len(items)},
            priority=_priority(bundle.kind, items),
            # A digest waits for the quiet hours to end; it is never urgent. Grouped severe
            # or critical alerts go when their window ends, quiet hours or not, as each
            # would have alone.
            not_before=now
            if (bundle.kind == "informed" and _any_severe(bundle.items)) or not contact.quiet_hours
            else contact.quiet_hours.ends_after(now.astimezone(policy.zone)),
        )
        queued += int(await queue.enqueue(conn, new))
    return queued


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
    owners of each were told alone, at once."""
    if kind != "informed" or not _any_severe(items):
        return CASE_PRIORITY
    return PRIORITY[Severity.SEVERE]
