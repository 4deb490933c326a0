"""Digests and batched case notices: a person's due items go out as one message."""

from __future__ import annotations

from datetime import datetime

import asyncpg
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.events.notify import RecipientKind

from ..adapters import contacts_repo, queue
from ..domain.contacts import staff_chain
from ..domain.routing import Template
from .policy import CASE_PRIORITY, NotifyPolicy

_TEMPLATES = {"digest": Template.DIGEST, "case": Template.CASE_NOTICES}
_EVENT_TYPES = {"digest": "shouwang.notify.digest", "case": "shouwang.notify.case_notices"}


async def flush_bundles(
    conn: asyncpg.Connection,
    cipher: NoteCipher,
    policy: NotifyPolicy,
    now: datetime,
    limit: int = 200,
) -> int:
    """Turn every due bundle into one queued message; returns how many were queued."""
    queued = 0
    for bundle in await queue.due_bundles(conn, now, limit):
        await queue.mark_bundled(conn, bundle.ids, now)
        contacts = await contacts_repo.staff_contacts(
            conn, cipher, bundle.campus_id, [bundle.person_ref]
        )
        contact = contacts.get(bundle.person_ref)
        source_event_id = f"{bundle.kind}:{bundle.campus_id}:{bundle.person_ref}:{bundle.ids[0]}"
        channel = staff_chain(contact, policy.channels).first() if contact else None
        if contact is None or channel is None:
            await queue.record_unreached(
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
        items = sorted(
            bundle.items, key=lambda item: str(item.get("due") or item.get("deadline") or "")
        )
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
            priority=CASE_PRIORITY,
            # A digest waits for the quiet hours to end; it is never urgent.
            not_before=contact.quiet_hours.ends_after(now.astimezone(policy.zone))
            if contact.quiet_hours
            else now,
        )
        queued += int(await queue.enqueue(conn, new))
    return queued
