"""A student's erasure on request reaches notify (`student.erased` on the cases topic).

Runs in the consumer's transaction after the event id was claimed, so a redelivered event
erases nothing twice; logs what went as counts, never a name, address or reference.
"""

from __future__ import annotations

import logging

import asyncpg
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events.casework import StudentErased

from ..adapters import erasure

logger = logging.getLogger("shouwang.notify.erasure")


async def apply_erasure(conn: asyncpg.Connection, envelope: Envelope[StudentErased]) -> None:
    """Erase the student's family contacts and ended delivery records, as of the erasure."""
    campus, data = envelope.campus_id, envelope.data
    contacts = await erasure.erase_family_contacts(conn, campus, data.student_ref, data.erased_at)
    records = await erasure.erase_delivery_records(conn, campus, data.student_ref, data.erased_at)
    counts = ", ".join(f"{n} {table}" for table, n in records.items())
    if contacts is None:
        logger.warning(
            "erasure %s applied for campus %s: family contacts kept, a case is open; %s",
            envelope.id,
            campus,
            counts,
        )
    else:
        logger.info(
            "erasure %s applied for campus %s: %d family contacts, %s",
            envelope.id,
            campus,
            contacts,
            counts,
        )
