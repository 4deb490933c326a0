"""Cases whose owner a staff roster took off: handed over, never left with someone gone.

A snapshot staff import ends the assignments of whoever left (or was moved off a scope).
An open case they owned would still look owned in the queue, its follow-ups would fall due
for nobody, and notify would soon have no address for them. So, in the import's own
transaction and after its roster changes, each such case goes through the case aggregate
(version, history, `case.assigned` through the outbox) to the person now responsible for
the student in the case's owner role, narrowest scope first, as a warning's owner is chosen;
with nobody responsible it loses its owner and shows unowned in the queue until someone takes
it. Recorded as the system, with the reason code below; nothing here logs a person.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import asyncpg
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.trace import current_traceparent

from ..adapters import cases as case_repo
from ..adapters import roster as repo
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
        if case is None or not case.active or case.owner_ref not in dropped:
            continue
        responsible = await repo.responsible_for(conn, case.student_ref, case.owner_role.value)
        if case.owner_ref in responsible:
            continue  # moved within the roster, still covering this student
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
        await store(conn, case, cipher, traceparent)
    return Handovers(handed_over, unowned)
