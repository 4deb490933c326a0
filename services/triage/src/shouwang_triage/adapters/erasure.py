"""Erasing what triage holds of one student, on their request (PIPL Art. 47).

The signals and screening answers (`evidence`) and the student's current grade with its
reasons (`grades`), as they stood at the erasure: a row written after it (a later report, a
new concern) stays. The structured facts the ladder and the outcome figures rest on stay:
alerts and their escalations, lowered grades, closed cases, and the audit of grade reads.

The erasure first takes the student's lock, the one every grading of them takes before it
reads (`BatchStore.lock_students`): a grading in flight commits before the erasure looks, so
the evidence and grade it writes are erased too; a grading that starts later reads the student
as the erasure left them, never grading on erased evidence. No deadlock with a census batch
holding many students' locks: the erasure takes a single key, and after it only the student's
own rows, which no other holder of a student lock touches.

A report or census row received before the erasure can still come after it (its consumer far
behind, a retried batch): the erasure leaves a mark, the student's `erased_at`, in the same
transaction, and grading honours it (`service_layer.grading`: graded, its alert raised, but
neither its evidence nor a grade resting on it kept). A mark lasts as long as such a record can
arrive: the input topics' retention plus a margin (`TRIAGE_ERASURE_MARK_DAYS`); housekeeping
then deletes it (`prune_erasure_marks`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .batch import BatchStore
from .repository import Connection


@dataclass(frozen=True, slots=True)
class Erased:
    """How many rows went, per table: counts only, never what they held."""

    evidence: int
    grades: int


async def erase_student(
    conn: Connection, campus_id: str, student_ref: str, erased_at: datetime
) -> Erased:
    """Delete the student's evidence received and grade graded at `erased_at` or before (or later,
    on nothing left but erased evidence), once no grading about them is in flight (their lock,
    held until the transaction ends), and mark the student erased at `erased_at` for the records
    still on their way."""
    await BatchStore(conn).lock_students([campus_id], [student_ref])
    evidence = await conn.execute(
        "DELETE FROM evidence WHERE campus_id = $1 AND student_ref = $2 AND received_at <= $3",
        campus_id,
        student_ref,
        erased_at,
    )
    # A grade made after `erased_at` but before triage applied the erasure goes too when it may
    # rest on what was just erased: evidence was erased now (all of it received before that
    # grading, which did not yet know of the erasure, so its reasons may quote it), or none
    # received after is left. A grade on newer evidence alone stays: nothing was erased now
    # (this erasure redelivered, or an older one arriving late, after a grading that honoured
    # the mark). The student's next input is graded on the newer evidence alone, as before.
    erased_now = _count(evidence)
    grades = await conn.execute(
        "DELETE FROM grades WHERE campus_id = $1 AND student_ref = $2 AND (graded_at <= $3"
        " OR $4::bigint > 0 OR NOT EXISTS (SELECT 1 FROM evidence e WHERE e.campus_id = $1"
        " AND e.student_ref = $2 AND e.received_at > $3))",
        campus_id,
        student_ref,
        erased_at,
        erased_now,
    )
    # A later erasure of the same student, or this one redelivered, never moves it back.
    await conn.execute(
        "INSERT INTO erasure_marks (campus_id, student_ref, erased_at) VALUES ($1, $2, $3)"
        " ON CONFLICT (campus_id, student_ref)"
        " DO UPDATE SET erased_at = GREATEST(erasure_marks.erased_at, EXCLUDED.erased_at)",
        campus_id,
        student_ref,
        erased_at,
    )
    return Erased(erased_now, _count(grades))


async def prune_erasure_marks(conn: Connection, before: datetime) -> int:
    """Forget the marks of erasures before `before`: no record received before them can
    still arrive. How many went."""
    return _count(await conn.execute("DELETE FROM erasure_marks WHERE erased_at < $1", before))


def _count(status: str) -> int:
    return int(status.split()[-1])
