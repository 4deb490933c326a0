"""Oversight notices, grouped per person (`domain/routing.py`, `Intent.grouped`).

A census can grade a whole college in a minute. The college leader is told of each severe or
critical alert for oversight; it is owned and handled by others (the counseling center
acknowledges it). One identical "知会" per student buries the one that matters, and repeated
alerts that need no action are read less (alert fatigue: Ancker et al. 2017, BMC Med Inform
Decis Mak 17:36). So a person's first grouped notice goes at once, as ever, and opens a window
(`NOTIFY_INFORMED_WINDOW_SECONDS`); the ones after it within the window go together in one
message when it ends, gravest first, each alert once (one raised and escalated within the
window is one line, in its latest state; one acknowledged meanwhile drops out, and a bundle
left empty is not sent). No one waits to learn that something is happening; the
owners and every tier that may act are told of each alert alone, at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from ..adapters import informed
from ..domain.routing import AlertNotice, Intent
from .policy import PRIORITY, NotifyPolicy


async def hold_back(
    conn: asyncpg.Connection,
    policy: NotifyPolicy,
    grouped: Sequence[tuple[AlertNotice, Intent]],
    now: datetime,
) -> set[tuple[str, str]]:
    """Of a batch's grouped notices, put those that wait in their windows' bundles; returns
    them as (event id, person) so the caller sends only the rest (each person's first)."""
    if not grouped or policy.informed_window.total_seconds() <= 0:
        return set()
    people = list(dict.fromkeys((n.campus_id, i.recipient_ref) for n, i in grouped))
    windows = await informed.open_windows(conn, people, now, policy.informed_window)
    sent_first: set[tuple[str, str]] = set()
    held: set[tuple[str, str]] = set()
    waiting: list[informed.Waiting] = []
    # The gravest (then the earliest) of a fresh window is the one that goes at once.
    for notice, intent in sorted(
        grouped, key=lambda p: (PRIORITY[p[0].severity], p[0].occurred_at)
    ):
        person = (notice.campus_id, intent.recipient_ref)
        # A window a racing planner opened in this instant is not visible yet: it is open.
        opened_at, fresh = windows.get(person, (now, False))
        if fresh and person not in sent_first:
            sent_first.add(person)
            continue
        held.add((notice.event_id, intent.recipient_ref))
        waiting.append(
            informed.Waiting(
                campus_id=notice.campus_id,
                person_ref=intent.recipient_ref,
                role=intent.role.value if intent.role else "",
                item={
                    "alert_id": notice.alert_id,
                    "severity": notice.severity.value,
                    "owner_role": notice.owner_role.value,
                    "deadline": notice.ack_deadline.isoformat(),
                    "escalated": notice.escalated,
                    "owner_vacant": notice.owner_vacant,
                    "stand_in": notice.stand_in.value if notice.stand_in else None,
                },
                source_event_id=notice.event_id,
                student_ref=notice.student_ref,
                source_time=notice.occurred_at,
                due_at=opened_at + policy.informed_window,
            )
        )
    await informed.add_waiting(conn, waiting)
    return held
