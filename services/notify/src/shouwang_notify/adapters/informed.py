"""Oversight windows: since when each person's current window of grouped notices is open, and
the notices that wait in it (`bundle_items` of kind 'informed')."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

#: A person of a campus.
Person = tuple[str, str]


async def open_windows(
    conn: asyncpg.Connection,
    people: Sequence[Person],
    now: datetime,
    window: timedelta,
    kind: str = "informed",
) -> dict[Person, tuple[datetime, bool]]:
    """Each person's window of `kind`: when it opened, and whether it opened now (no window
    of theirs was open: their first notice goes at once). One statement decides it for all
    of them, so two planners that race for one person open one window between them. The
    windows are locked in (campus, person) order, whatever the order of `people`: two
    planners each locking its batch's people in its own order wait on each other in a
    circle (40P01)."""
    rows = await conn.fetch(
        """
        WITH asked AS (
            SELECT * FROM unnest($1::text[], $2::text[]) AS a(campus_id, person_ref)
        ), opened AS (
            INSERT INTO informed_windows (campus_id, person_ref, kind, opened_at)
            SELECT campus_id, person_ref, $5, $3 FROM asked ORDER BY campus_id, person_ref
            ON CONFLICT (campus_id, person_ref, kind) DO UPDATE SET opened_at = EXCLUDED.opened_at
                WHERE informed_windows.opened_at <= EXCLUDED.opened_at - $4::interval
            RETURNING campus_id, person_ref, opened_at
        )
        SELECT campus_id, person_ref, opened_at, true AS fresh FROM opened
        UNION ALL
        SELECT w.campus_id, w.person_ref, w.opened_at, false FROM informed_windows w
          JOIN asked a USING (campus_id, person_ref)
         WHERE w.kind = $5 AND NOT EXISTS (SELECT 1 FROM opened o
                            WHERE o.campus_id = w.campus_id AND o.person_ref = w.person_ref)
        """,
        [campus for campus, _ in people],
        [person for _, person in people],
        now,
        window,
        kind,
    )
    return {(r["campus_id"], r["person_ref"]): (r["opened_at"], r["fresh"]) for r in rows}


async def opened_within(
    conn: asyncpg.Connection,
    people: Sequence[Person],
    now: datetime,
    window: timedelta,
    kind: str,
) -> dict[Person, datetime]:
    """The people's windows of `kind` still open at `now` (opened less than `window` ago),
    read only: none is opened."""
    rows = await conn.fetch(
        """
        SELECT w.campus_id, w.person_ref, w.opened_at FROM informed_windows w
          JOIN unnest($1::text[], $2::text[]) AS a(campus_id, person_ref)
            USING (campus_id, person_ref)
         WHERE w.kind = $3 AND w.opened_at > $4::timestamptz - $5::interval
        """,
        [campus for campus, _ in people],
        [person for _, person in people],
        kind,
        now,
        window,
    )
    return {(r["campus_id"], r["person_ref"]): r["opened_at"] for r in rows}


@dataclass(frozen=True, slots=True)
class Waiting:
    """A grouped notice that waits for its window to end."""

    campus_id: str
    person_ref: str
    role: str | None  # none for the on-duty line
    item: dict[str, Any]
    source_event_id: str
    student_ref: str
    source_time: datetime
    due_at: datetime


async def add_waiting(
    conn: asyncpg.Connection, waiting: Sequence[Waiting], kind: str = "informed"
) -> None:
    """Put the notices in their windows' bundles of `kind`, in one statement (a redelivery
    adds none)."""
    if not waiting:
        return
    await conn.execute(
        """
        INSERT INTO bundle_items (campus_id, person_ref, role, kind, item, source_event_id,
            student_ref, source_time, due_at)
        SELECT campus_id, person_ref, role, $9, item, source_event_id, student_ref,
               source_time, due_at
          FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::text[], $6::text[],
                      $7::timestamptz[], $8::timestamptz[])
            AS w(campus_id, person_ref, role, item, source_event_id, student_ref, source_time,
                 due_at)
        ON CONFLICT DO NOTHING
        """,
        [w.campus_id for w in waiting],
        [w.person_ref for w in waiting],
        [w.role for w in waiting],
        [json.dumps(w.item, ensure_ascii=False, sort_keys=True) for w in waiting],
        [w.source_event_id for w in waiting],
        [w.student_ref for w in waiting],
        [w.source_time for w in waiting],
        [w.due_at for w in waiting],
        kind,
    )
