"""Cases whose owner a staff roster took off: handed over, never left with someone gone.

A snapshot staff import ends the assignments of whoever left (or was moved off a scope).
An open case they owned would still look owned in the queue, its follow-ups would fall due
for nobody, and notify would soon have no address for them. So, in the import's own
transaction and after its roster changes, each such case goes through the case aggregate
(version, history, `case.assigned` through the outbox) to the person now responsible for
the student in the case's owner role, narrowest scope first, as a warning's owner is chosen;
with nobody responsible it loses its owner and shows unowned in the queue until someone takes
it (`case.owner_cleared`). The leaver's scheduled follow-ups of the case go with it; so do, on
any open case, the follow-ups someone else taken off was to make (assigned to them on a case
they did not own), which would otherwise fall due for nobody. Recorded as the system, with the
reason code below; nothing here logs a person.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.events.casework import FollowUpStatus
from shouwang_contracts.trace import current_traceparent

from ..adapters import care
from ..adapters import cases as case_repo
from ..adapters import roster as repo
from ..domain.cases import Case
from ..domain.followup import FollowUp
from .events import follow_up_updated, publish
from .loop import now, store

#: Why the system moved the case, as its history records it.
OWNER_OFF_ROSTER = "owner_off_roster"


@dataclass(frozen=True, slots=True)
class Handovers:
    """How many open cases went to someone responsible now, how many to nobody, and how many
    scheduled follow-ups someone taken off was to make went to the case's owner (or nobody)."""

    handed_over: int = 0
    unowned: int = 0
    follow_ups: int = 0

    def counts(self) -> dict[str, int]:
        return {
            "cases_handed_over": self.handed_over,
            "cases_unowned": self.unowned,
            "follow_ups_handed_over": self.follow_ups,
        }


async def hand_over_cases(
    conn: asyncpg.Connection, cipher: NoteCipher, campus_id: str, dropped: Collection[str]
) -> Handovers:
    """Hand over every open case owned by one of `dropped` (people whose assignments the
    import ended) who no longer holds the case's owner role for its student, and every
    scheduled follow-up of an open case one of them was to make who no longer covers its
    student, to the case's owner. Call after the roster is written, in the same transaction.

    The students are locked first, in `lock_students`' global order (as the consumers lock
    them), then each case row, by case id: a warning arriving meanwhile waits, never deadlocks.
    """
    candidates = sorted(
        set(await repo.open_cases_owned_by(conn, dropped))
        | set(await repo.open_cases_with_follow_ups_of(conn, dropped))
    )
    if not candidates:
        return Handovers()
    await case_repo.lock_students(conn, [(campus_id, student) for _, student in candidates])
    handed_over = unowned = follow_ups = 0
    at = now()
    traceparent = current_traceparent()
    for case_id, _ in candidates:
        case = await case_repo.get_case(conn, case_id, lock=True)
        # Re-read under the lock: someone may have closed or reassigned it meanwhile.
        if case is None or not case.active:
            continue
        leaver, responsible = await _owner_to_replace(conn, case, dropped)
        if leaver is not None:
            if responsible:
                case.assign(
                    owner_ref=responsible[0],
                    owner_role=case.owner_role,
                    at=at,
                    reason=OWNER_OFF_ROSTER,
                )
                handed_over += 1
            else:
                case.release(at=at, reason=OWNER_OFF_ROSTER)
                unowned += 1
        moved = await _hand_follow_ups(conn, cipher, case, dropped, leaver, at)
        if leaver is None and not moved:
            continue
        follow_ups += len(moved)
        await store(conn, case, cipher, traceparent)
        for follow_up in moved:
            await publish(conn, campus_id, follow_up_updated(case, follow_up, at), traceparent)
    return Handovers(handed_over, unowned, follow_ups)


async def _owner_to_replace(
    conn: asyncpg.Connection, case: Case, dropped: Collection[str]
) -> tuple[str | None, list[str]]:
    """The case's owner if the import took them off its student (in the owner role), else None
    (an owner moved within the roster who still covers the student keeps the case); and who
    holds the owner role for the student now, narrowest scope first."""
    owner = case.owner_ref
    if owner is None or owner not in dropped:
        return None, []
    responsible = await repo.responsible_for(conn, case.student_ref, case.owner_role.value)
    return (None if owner in responsible else owner), responsible


async def _hand_follow_ups(
    conn: asyncpg.Connection,
    cipher: NoteCipher,
    case: Case,
    dropped: Collection[str],
    leaver: str | None,
    at: datetime,
) -> list[FollowUp]:
    """The case's scheduled follow-ups that nobody on the roster will make, given to its
    (new) owner, or to nobody when it has none, each on the case's history; returns them
    (their events follow the case's). Those are the former owner's (`leaver`: they go with
    the case) and those of anyone else the import took off who covers the student no more, in
    any role (a follow-up assigned to someone who is not the owner)."""
    moved = []
    for follow_up in await care.follow_ups_of(conn, case.case_id):
        assignee = follow_up.assignee_ref
        if (
            follow_up.status is not FollowUpStatus.SCHEDULED
            or assignee is None
            or assignee == case.owner_ref
            or assignee not in dropped
        ):
            continue
        if assignee != leaver and await repo.covers_student(conn, assignee, case.student_ref):
            continue
        follow_up.hand_to(case.owner_ref)
        await care.save_follow_up(conn, cipher, case, follow_up)
        case.record_system(
            "follow_up_moved",
            at,
            detail={"follow_up_id": follow_up.follow_up_id, "reason": OWNER_OFF_ROSTER},
        )
        moved.append(follow_up)
    return moved
