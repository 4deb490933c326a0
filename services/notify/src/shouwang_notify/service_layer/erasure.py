"""A student's erasure on request reaches notify (`student.erased` on the cases topic).

Runs in the consumer's transaction after the event id was claimed, so a redelivered event
erases nothing twice; logs what went as counts, never a name, address or reference. While a
case of the student is open here the family contacts stay (a crisis may still need the
family) and the erasure waits in `pending_erasures`; the closing of the student's last open
case completes it, once, in that event's transaction.
"""

from __future__ import annotations

import logging

import asyncpg
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events.casework import StudentErased

from ..adapters import erasure

logger = logging.getLogger("shouwang.notify.erasure")


def _counts(records: dict[str, int]) -> str:
    return ", ".join(f"{n} {table}" for table, n in records.items())


async def apply_erasure(conn: asyncpg.Connection, envelope: Envelope[StudentErased]) -> None:
    """Erase the student's family contacts and ended delivery records, as of the erasure;
    defer the contacts while a case of the student is open."""
    campus, data = envelope.campus_id, envelope.data
    contacts = await erasure.erase_family_contacts(conn, campus, data.student_ref, data.erased_at)
    records = await erasure.erase_delivery_records(conn, campus, data.student_ref, data.erased_at)
    if contacts is None:
        await erasure.defer_erasure(conn, campus, data.student_ref, envelope.id, data.erased_at)
        logger.warning(
            "erasure %s applied for campus %s: family contacts kept, a case is open; the"
            " erasure completes when it closes; %s",
            envelope.id,
            campus,
            _counts(records),
        )
    else:
        # An earlier erasure still waiting is covered by this one (a later time, no case open).
        await erasure.take_due_erasure(conn, campus, data.student_ref)
        logger.info(
            "erasure %s applied for campus %s: %d family contacts, %s",
            envelope.id,
            campus,
            contacts,
            _counts(records),
        )


async def complete_deferred_erasure(
    conn: asyncpg.Connection, campus_id: str, student_ref: str
) -> bool:
    """A case of the student closed: if it was the last open one and an erasure waited for
    it, carry the erasure out now, as of its own time (contacts imported after it stay, an
    admin's deliberate act), and say so in counts. True when one completed."""
    due = await erasure.take_due_erasure(conn, campus_id, student_ref)
    if due is None:
        return False
    event_id, erased_at = due
    contacts = await erasure.erase_family_contacts(conn, campus_id, student_ref, erased_at)
    records = await erasure.erase_delivery_records(conn, campus_id, student_ref, erased_at)
    logger.info(
        "erasure %s completed for campus %s, the last open case closed: %d family contacts, %s",
        event_id,
        campus_id,
        contacts or 0,
        _counts(records),
    )
    return True
