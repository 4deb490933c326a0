"""A student's erasure on request reaches triage: what it holds of them goes, once per event.

Casework announces `student.erased` after erasing the file (only with no case open); triage
erases the student's signals, screening answers and grade as they stood then, marks the student
erased at that time for the reports and sheets from before it still on their way
(`adapters.erasure`, honoured by `service_layer.grading`), and logs the counts, under the
event's id, never a name or a signal.
"""

from __future__ import annotations

import logging

from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events import StudentErased

from ..adapters.erasure import Erased, erase_student
from ..adapters.repository import TriageStore

logger = logging.getLogger("shouwang.triage.erasure")


async def apply_erasure(
    store: TriageStore, envelope: Envelope[StudentErased], topic: str
) -> Erased | None:
    """Erase the student's evidence and grade; None for an event already applied."""
    if not await store.claim_event(envelope.id, topic):
        return None
    erased = await erase_student(
        store.conn, envelope.campus_id, envelope.data.student_ref, envelope.data.erased_at
    )
    logger.info(
        "erasure %s applied for campus %s: %d evidence rows, %d grades",
        envelope.id,
        envelope.campus_id,
        erased.evidence,
        erased.grades,
    )
    return erased
