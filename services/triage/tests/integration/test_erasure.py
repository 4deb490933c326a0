"""Triage's erasure on request against a real PostgreSQL: the student's evidence and grade as
they stood at the erasure go; a later report, another student and the alerts stay.

An erasure and a grading about the same student do not interleave: the erasure takes the
student's lock, the one every grading takes before it reads (`BatchStore.lock_students`).
Without it, a census batch that had read the student before the erasure and committed after
it wrote the sheet and the grade the erasure had already passed over (personal data outliving
an erasure the student was told is done: PIPL Art. 47, docs/retention.md); and a census that
read the student while an erasure was under way graded on the evidence being erased. The
interleavings are held with the census lane's own gate and observed in pg_stat_activity, as in
`test_report_after_census.py`; no sleeps as synchronisation.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from shouwang_contracts.topics import CASES
from shouwang_triage.adapters.erasure import erase_student
from shouwang_triage.entrypoints.consumers import (
    UrgentFirst,
    apply_case_event,
    grade_census,
    grade_urgent,
)

from .helpers import eventually
from .lanes import (
    CAMPUS,
    ITEM9_FREQUENT,
    LOW_MOOD,
    STUCK_AFTER,
    Lanes,
    cancel_all,
    census_batch,
    erasure,
    received,
    report_input,
)

pytestmark = pytest.mark.integration

AT = datetime(2026, 12, 6, 12, tzinfo=UTC)


async def _evidence(conn: asyncpg.Connection, evidence_id: str, student: str, at: datetime) -> None:
    await conn.execute(
        "INSERT INTO evidence (evidence_id, campus_id, student_ref, kind, signals, instrument,"
        " items, observed_at, received_at)"
        " VALUES ($1, 'c1', $2, 'screening', '{}', 'phq9', '{3,3,3,2,2,2,1,1,3}', $3, $3)",
        evidence_id,
        student,
        at,
    )


async def _grade(conn: asyncpg.Connection, student: str, at: datetime) -> None:
    await conn.execute(
        "INSERT INTO grades (campus_id, student_ref, severity, reasons, policy_version,"
        " assessment_id, graded_at) VALUES ('c1', $1, 'severe', '[]', 'p1', $2, $3)",
        student,
        f"as-{student}",
        at,
    )


async def test_the_students_evidence_and_grade_up_to_the_erasure_go_and_nothing_else(
    service_database: Any,
) -> None:
    conn = await asyncpg.connect(await service_database("triage"))
    try:
        await _evidence(conn, "before", "stu_1", AT - timedelta(days=30))
        await _evidence(conn, "after", "stu_1", AT + timedelta(seconds=1))  # a new concern
        await _evidence(conn, "other", "stu_2", AT - timedelta(days=30))
        await _grade(conn, "stu_1", AT - timedelta(days=30))
        await _grade(conn, "stu_2", AT - timedelta(days=30))
        await conn.execute(
            "INSERT INTO alerts (alert_id, campus_id, student_ref, assessment_id, severity,"
            " owner_role, ack_deadline, status, raised_at, policy_version)"
            " VALUES ('al1', 'c1', 'stu_1', 'as-stu_1', 'severe', 'residence_counselor', $1,"
            " 'acknowledged', $1, 'p1')",
            AT - timedelta(days=30),
        )

        async with conn.transaction():
            erased = await erase_student(conn, "c1", "stu_1", AT)

        assert (erased.evidence, erased.grades) == (1, 1)
        left = await conn.fetch("SELECT evidence_id FROM evidence ORDER BY evidence_id")
        assert [r["evidence_id"] for r in left] == ["after", "other"]
        grades = await conn.fetch("SELECT student_ref FROM grades")
        assert [r["student_ref"] for r in grades] == ["stu_2"]
        assert await conn.fetchval("SELECT count(*) FROM alerts") == 1  # structured facts stay
    finally:
        await conn.close()


async def test_a_grade_made_in_the_gap_from_erased_and_newer_evidence_does_not_outlive_the_erasure(
    service_database: Any,
) -> None:
    """The cases consumer behind: a grade made after the erasure's time, before triage applied
    it, from a sheet received before it and a report received after. Its reasons may quote the
    erased sheet, so it goes with it; it was once kept until the student's next input, which
    may never come. A grade made on newer evidence alone, after the erasure was applied, stays
    when the erasure is delivered again."""
    conn = await asyncpg.connect(await service_database("triage"))
    try:
        await _evidence(conn, "before", "stu_1", AT - timedelta(days=3))
        await _evidence(conn, "after", "stu_1", AT + timedelta(seconds=1))
        await _grade(conn, "stu_1", AT + timedelta(seconds=2))  # from both, before the erasure

        async with conn.transaction():
            erased = await erase_student(conn, "c1", "stu_1", AT)
        assert (erased.evidence, erased.grades) == (1, 1)

        await _grade(conn, "stu_1", AT + timedelta(seconds=3))  # on "after" alone, honouring it
        async with conn.transaction():
            again = await erase_student(conn, "c1", "stu_1", AT)  # redelivered
        assert (again.evidence, again.grades) == (0, 0)
        assert await conn.fetchval("SELECT count(*) FROM grades") == 1
    finally:
        await conn.close()


async def test_a_grade_made_after_the_erasure_but_before_triage_applied_it_goes_with_its_evidence(
    lanes: Lanes,
) -> None:
    """The cases consumer behind: a report received before the erasure was graded after its
    time but before triage applied it. The erasure takes the report (received before) and
    the grade made from it alone (graded after), which it once left resting on nothing."""
    student = f"s-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    late = received(report_input(student, LOW_MOOD), now - timedelta(minutes=2))
    await grade_urgent(lanes.triage, UrgentFirst(), [late])
    assert len((await lanes.held(student))[1]) == 1

    await apply_case_event(lanes.triage, erasure(student, now - timedelta(minutes=1)), CASES)

    assert await lanes.held(student) == ([], [])
    # The alert it raised stays, as every alert does.
    assert len(await lanes.alerts(student)) == 1


async def test_a_grading_in_flight_at_the_erasure_leaves_no_evidence_or_grade_from_before_it(
    lanes: Lanes,
) -> None:
    student = f"s-{uuid.uuid4().hex[:8]}"
    # A week-old report: what triage held of the student before this term's census.
    await lanes.grade_old_report(student, LOW_MOOD, 7)
    census = census_batch(student, ITEM9_FREQUENT)

    async def erase_now() -> None:
        # Casework erased the student after the census received the sheet and began grading.
        await apply_case_event(lanes.triage, erasure(student, datetime.now(UTC)), CASES)

    await lanes.census_then(census, erase_now)

    # The census did grade the student (the structured facts stay: its alert) ...
    assert await lanes.alerts(student) == [("moderate", "superseded"), ("severe", "open")]
    # ... and nothing it wrote from before the erasure outlives it: neither the sheet nor
    # the grade computed from the erased report.
    assert await lanes.held(student) == ([], [])
    # Another student of the batch keeps their sheet.
    assert (
        await lanes.observer.fetchval(
            "SELECT count(*) FROM evidence WHERE evidence_id = $1", census[1].evidence_id
        )
        == 1
    )


async def test_a_grading_that_reads_the_student_during_the_erasure_is_not_graded_on_erased_evidence(
    lanes: Lanes,
) -> None:
    student = f"s-{uuid.uuid4().hex[:8]}"
    await lanes.grade_old_report(student, LOW_MOOD, 7)
    old_report = (await lanes.held(student))[0]
    assert len(old_report) == 1
    erased_at = datetime.now(UTC)
    # The census of many students, this one among them, is received after the erasure.
    census = census_batch(student, ITEM9_FREQUENT)

    conn = await lanes.triage.pool.acquire()
    tasks: list[asyncio.Task[None]] = []
    try:
        async with conn.transaction():
            # The erasure has deleted but not committed when the census reads its students.
            await erase_student(conn, CAMPUS, student, erased_at)
            graded = asyncio.create_task(grade_census(lanes.triage, UrgentFirst(), census))
            tasks.append(graded)
            # (Without the erasure's lock, the census reads at once and is done.)
            await eventually(lambda: graded.done() or lanes.someone_waits_for_a_lock(), STUCK_AFTER)
        # The census held its other students' locks while it waited: the erasure, holding one
        # lock, committed all the same, and the census then went on.
        async with asyncio.timeout(STUCK_AFTER):
            await graded
    finally:
        await lanes.triage.pool.release(conn)
        await cancel_all(tasks)

    # The sheet came after the erasure and stays, graded on itself alone.
    evidence, grades = await lanes.held(student)
    assert evidence == [census[0].evidence_id]
    assert len(grades) == 1
    by_census = (await lanes.assessments(student))[-1]
    assert by_census["screening_ids"] == [census[0].evidence_id]
    assert by_census["report_ids"] == []
