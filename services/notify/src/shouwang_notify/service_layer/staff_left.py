"""Staff who left the roster (`staff.listing_changed` on the cases topic, from casework's
staff imports): notify remembers since when, and the retention chore deletes their contact
addresses after a grace (`NOTIFY_STAFF_CONTACTS_AFTER_LEAVING_DAYS`); listed again before,
they keep them. Logs the event id and campus, never a reference, name or address.
"""

from __future__ import annotations

import logging

import asyncpg
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events.casework import StaffListingChanged

from ..adapters.links import end_links_of
from ..adapters.retention import record_staff_listing

logger = logging.getLogger("shouwang.notify.staff_left")


async def apply_staff_listing(
    conn: asyncpg.Connection, envelope: Envelope[StaffListingChanged]
) -> None:
    """Record a leaving, or forget one on a re-listing; in the consumer's transaction. A
    leaver's unused acknowledgement links end at their leaving."""
    data = envelope.data
    if not data.listed:
        await end_links_of(conn, envelope.campus_id, data.person_ref, data.changed_at)
    erased_at = await record_staff_listing(
        conn, envelope.campus_id, data.person_ref, listed=data.listed, at=data.changed_at
    )
    if erased_at is not None:
        # Alerts for this person reach nobody until their contacts are imported again.
        logger.warning(
            "staff listing %s for campus %s: a person is on the roster again whose contacts"
            " ended %s; import their contacts again",
            envelope.id,
            envelope.campus_id,
            erased_at.date().isoformat(),
        )
