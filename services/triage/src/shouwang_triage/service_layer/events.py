"""Building triage's outgoing events with ids derived from their cause.

Ids are deterministic (uuid5 of the input event id or the escalation step), so if anything
runs twice (a redelivered input, a relay that published but crashed before deleting) the
same event id goes out and every consumer's deduplication absorbs it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from shouwang_contracts.envelope import Envelope, Payload
from shouwang_contracts.events.triage import FollowUpTask
from shouwang_contracts.vocabulary import FollowUp, Role

from ..domain.ladder import DueTask

SOURCE = "/shouwang/triage"
_NAMESPACE = uuid.UUID("0b6f1f0e-6a43-5c9e-9d55-7c1e5a8f3a21")


def derived_id(*parts: str) -> str:
    """A stable id for the thing `parts` name (e.g. `("assessment", input_event_id)`)."""
    return str(uuid.uuid5(_NAMESPACE, ":".join(parts)))


def wrap(
    payload: Payload,
    *,
    event_id: str,
    campus_id: str,
    student_ref: str,
    time: datetime,
    traceparent: str | None,
) -> Envelope[Any]:
    """The envelope for one outgoing event, keyed by campus and student."""
    return Envelope.wrap(
        payload,
        source=SOURCE,
        campus_id=campus_id,
        subject=student_ref,
        event_id=event_id,
        time=time,
        traceparent=traceparent,
    )


def follow_up_tasks(tasks: tuple[DueTask, ...]) -> list[FollowUpTask]:
    """Follow-up tasks as the alert events carry them."""
    return [
        FollowUpTask(task=FollowUp(t.task), assigned_role=Role(t.role), due_at=t.due_at)
        for t in tasks
    ]
