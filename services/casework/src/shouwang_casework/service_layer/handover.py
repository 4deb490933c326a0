"""Cases whose owner a staff roster took off: handed over, never left with someone gone.

A snapshot staff import ends the assignments of whoever left (or was moved off a scope).
An open case they owned would still look owned in the queue, its follow-ups would fall due
for nobody, and notify would soon have no address for them. So, in the import's own
transaction and after its roster changes, each such case goes through the case aggregate
(version, history, `case.assigned` through the outbox) to the person now responsible for
the student in the case's owner role, narrowest scope first, as a warning's owner is chosen;
with nobody responsible it loses its owner and shows unowned in the queue until someone takes
it (`case.owner_cleared`). The leaver's scheduled follow-ups of the case go with it. Recorded as
the system, with the reason code below; nothing here logs a person.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.trace import current_traceparent

from ..adapters import care
from ..adapters import cases as case_repo
from ..adapters import roster as repo
from ..domain.cases import Case
from ..domain.followup import FollowUp, FollowUpStatus
from .events import follow_up_updated, publish
from .loop import now, store

#: Why the system moved the case, as its history records it.
OWNER_OFF_ROSTER = "owner_off_roster"


@dataclass(frozen=True, slots=True)
class Handovers:
    """How many open cases went to someone responsible now, and how many to nobody."""

    handed_over: int = 0
    unowned: int = 0

    def counts(self) -> dict[str, int]:
        return {"cases_handed_over": self.handed_over, "cases_unowned": self.unowned}


async def hand_over_cases(
    conn: asyncpg.Connection, cipher: NoteCipher, campus_id: str, dropped: Collection[str]
) -> Handovers:
    """Hand over every open case owned by one of `dropped` (people whose assignments the
    import ended) who no longer holds the case's owner role for its student. Call after the
    roster is written, in the same transaction.

    The students are locked first, in `lock_students`' global order (as the consumers lock
    them), then each case row: a warning arriving meanwhile waits, never deadlocks.
    """
    candidates = await repo.open_cases_owned_by(conn, dropped)
    if not candidates:
        return Handovers()
    await case_repo.lock_students(conn, [(campus_id, student) for _, student in candidates])
    handed_over = unowned = 0
    at = now()
    traceparent = current_traceparent()
    for case_id, _ in candidates:
        case = await case_repo.get_case(conn, case_id, lock=True)
        # Re-read under the lock: someone may have closed or reassigned it meanwhile.
        if case is None or not case.active:
            continue
        leaver = case.owner_ref
        if leaver is None or leaver not in dropped:
            continue
        responsible = await repo.responsible_for(conn, case.student_ref, case.owner_role.value)
        if leaver in responsible:
            continue  # moved within the roster, still covering this student
        successor = responsible[0] if responsible else None
        if successor is not None:
            case.assign(
                owner_ref=successor,
                owner_role=case.owner_role,
                at=at,
                reason=OWNER_OFF_ROSTER,
            )
            handed_over += 1
        else:
            case.release(at=at, reason=OWNER_OFF_ROSTER)
            unowned += 1
        moved = await _hand_follow_ups(conn, cipher, case, leaver, successor, at)
        await store(conn, case, cipher, traceparent)
        for follow_up in moved:
            await publish(conn, campus_id, follow_up_updated(case, follow_up, at), traceparent)
    return Handovers(handed_over, unowned)


async def _hand_follow_ups(
    conn: asyncpg.Connection,
    cipher: NoteCipher,
    case: Case,
    leaver: str,
    successor: str | None,
    at: datetime,
) -> list[FollowUp]:
    """The leaver's scheduled follow-ups of the case, given to the successor (or nobody),
    each on the case's history; returns them (their events follow the case's)."""
    moved = []
    for follow_up in await care.follow_ups_of(conn, case.case_id):
        if follow_up.status is FollowUpStatus.SCHEDULED and follow_up.assignee_ref == leaver:
            follow_up.hand_to(successor)
            await care.save_follow_up(conn, cipher, case, follow_up)
            case.record_system(
                "follow_up_moved",
                at,
                detail={"follow_up_id": follow_up.follow_up_id, "reason": OWNER_OFF_ROSTER},
            )
            moved.append(follow_up)
    return moved
