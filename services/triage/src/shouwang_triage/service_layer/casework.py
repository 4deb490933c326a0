"""What triage learns from casework: acknowledgements, closed cases and placements."""

from __future__ import annotations

from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events.casework import AlertAcknowledged, CaseClosed, StudentRouting

from ..adapters.repository import PlacedStudent, TriageStore


async def acknowledge_alert(
    store: TriageStore, envelope: Envelope[AlertAcknowledged], topic: str
) -> str | None:
    """Stop an alert escalating; returns its severity when this acknowledgement stopped it.

    The acknowledged alert then covers the student's later grades while its case is open
    (`domain.realerts`): the owner is not paged again for what they already hold.
    """
    if not await store.claim_event(envelope.id, topic):
        return None
    ack = envelope.data
    return await store.acknowledge(
        ack.alert_id, ack.acknowledged_at, ack.acknowledged_by_role.value, ack.case_id
    )


async def record_case_closed(
    store: TriageStore, envelope: Envelope[CaseClosed], topic: str
) -> None:
    """Remember a closed case: the history rule lifts later grades, and an acknowledged alert
    of this case no longer covers them."""
    if not await store.claim_event(envelope.id, topic):
        return
    closed = envelope.data
    await store.record_closed_case(
        closed.case_id,
        envelope.campus_id,
        closed.student_ref,
        closed.severity.value,
        closed.closed_at,
    )
    await store.release_held(
        envelope.campus_id, closed.student_ref, closed.case_id, closed.closed_at
    )


async def place_student(store: TriageStore, envelope: Envelope[StudentRouting]) -> None:
    """Materialise the newest directory entry (idempotent: older entries never overwrite)."""
    entry = envelope.data
    await store.save_placement(
        envelope.campus_id,
        entry.student_ref,
        entry.active,
        PlacedStudent(entry.college, frozenset(entry.placement_refs)),
        entry.updated_at,
    )
