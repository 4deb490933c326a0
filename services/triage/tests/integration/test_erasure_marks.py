"""What a record received before a student's erasure leaves in triage when it is graded after it.

Reports and census rows reach triage on topics with no order against the cases topic that
carries `student.erased`: a report received before the erasure can be graded after triage
applied it (the reports consumer behind, a retried batch). It is still graded and its alert
raised; then triage holds what it would had it been graded before the erasure and erased with
the rest (docs/retention.md, "Erasure on request"): neither its evidence nor a grade resting
on it. Without the erasure's mark (`erasure_marks`), such a report wrote both, for good: data
the student was told is gone (PIPL Art. 47).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import asyncpg
import pytest
from shouwang_contracts.topics import CASES
from shouwang_triage.adapters.policy_file import load_policy
from shouwang_triage.config import TriageSettings
from shouwang_triage.entrypoints.consumers import (
    UrgentFirst,
    apply_case_event,
    grade_census,
    grade_urgent,
)
from shouwang_triage.entrypoints.scheduler import housekeeping

from .lanes import (
    HEALTHY,
    ITEM9_FREQUENT,
    LOW_MOOD,
    Lanes,
    census_input,
    erasure,
    received,
    report_input,
)

pytestmark = pytest.mark.integration


async def test_a_report_received_before_the_erasure_and_graded_after_it_leaves_no_evidence(
    lanes: Lanes,
) -> None:
    """Graded example: a dorm leader reports a suicide attempt seen half an hour ago
    (grading-policy.yaml `redflag.suicide_attempt.recent`: any behaviour within the past 3
    months is high risk, Columbia Protocol triage, Posner 2011) -> critical, an alert at
    once. Received a minute before the student's erasure, graded after triage applied it: still
    critical and alerted, and nothing of it is kept."""
    student = f"s-{uuid.uuid4().hex[:8]}"
    erased_at = datetime.now(UTC)
    report = received(report_input(student, ["suicide_attempt"]), erased_at - timedelta(minutes=1))
    await apply_case_event(lanes.triage, erasure(student, erased_at), CASES)

    await grade_urgent(lanes.triage, UrgentFirst(), [report])

    graded = await lanes.assessments(student)
    assert [(a["severity"], a["report_ids"]) for a in graded] == [
        ("critical", [report.evidence_id])
    ]
    assert "redflag.suicide_attempt.recent" in [r["rule_id"] for r in graded[0]["reasons"]]
    assert await lanes.alerts(student) == [("critical", "open")]
    assert await lanes.held(student) == ([], [])


async def test_a_census_sheet_received_before_the_erasure_and_graded_after_it_leaves_nothing(
    lanes: Lanes,
) -> None:
    """Graded example: a PHQ-9 sheet with item 9 = 2, "more than half the days", total 11
    (grading-policy.yaml `phq9.item9.frequent`, Simon GE et al. Psychiatr Serv 2013) ->
    severe, an alert. Received before the student's erasure, graded in a census batch after
    it: graded and alerted, and nothing of it kept; the other students' sheets are kept."""
    student = f"s-{uuid.uuid4().hex[:8]}"
    erased_at = datetime.now(UTC) - timedelta(minutes=5)
    await apply_case_event(lanes.triage, erasure(student, erased_at), CASES)
    sheet = received(census_input(student, ITEM9_FREQUENT), erased_at - timedelta(minutes=1))
    others = [census_input(f"c-{uuid.uuid4().hex[:8]}", HEALTHY) for _ in range(3)]

    await grade_census(lanes.triage, UrgentFirst(), [sheet, *others])

    graded = await lanes.assessments(student)
    assert [(a["severity"], a["screening_ids"]) for a in graded] == [
        ("severe", [sheet.evidence_id])
    ]
    assert "phq9.item9.frequent" in [r["rule_id"] for r in graded[0]["reasons"]]
    assert await lanes.alerts(student) == [("severe", "open")]
    assert await lanes.held(student) == ([], [])
    kept = await lanes.observer.fetchval(
        "SELECT count(*) FROM evidence WHERE evidence_id = ANY($1::text[])",
        [o.evidence_id for o in others],
    )
    assert kept == len(others)


async def test_a_report_received_after_the_erasure_is_kept_and_graded_without_a_late_one(
    lanes: Lanes,
) -> None:
    """A late report (received before the erasure) and a new one (after it) about the same
    student, graded in one batch: the late one is graded and alerted as above; the new one is
    kept, and it and the stored grade rest on it alone, as if the late one had been erased."""
    student = f"s-{uuid.uuid4().hex[:8]}"
    erased_at = datetime.now(UTC) - timedelta(minutes=5)
    await apply_case_event(lanes.triage, erasure(student, erased_at), CASES)
    late = received(report_input(student, ["suicide_attempt"]), erased_at - timedelta(minutes=1))
    new = received(report_input(student, LOW_MOOD), erased_at + timedelta(minutes=1))

    await grade_urgent(lanes.triage, UrgentFirst(), [late, new])

    graded = await lanes.assessments(student)
    assert [(a["severity"], a["report_ids"]) for a in graded] == [
        ("critical", [late.evidence_id]),
        ("moderate", [new.evidence_id]),
    ]
    # The critical alert stays open beside the lower grade, as it would have.
    assert await lanes.alerts(student) == [("critical", "open")]
    assert await lanes.held(student) == (
        [new.evidence_id],
        [(graded[1]["assessment_id"], "moderate")],
    )

    # A later report is graded on the kept one and itself, never on the late one.
    later = report_input(student, ["sleep_disturbance"])
    await grade_urgent(lanes.triage, UrgentFirst(), [later])
    last = (await lanes.assessments(student))[-1]
    assert sorted(last["report_ids"]) == sorted([new.evidence_id, later.evidence_id])
    evidence, grades = await lanes.held(student)
    assert evidence == [new.evidence_id, later.evidence_id]
    assert [a for a, _ in grades] == [last["assessment_id"]]


async def test_a_redelivered_or_older_erasure_keeps_the_latest_mark(lanes: Lanes) -> None:
    """The same erasure event twice, then an older one of the same student (casework's
    events out of order): the mark stays at the latest erasure, so a report received between
    the two erasures and graded after both leaves nothing."""
    student = f"s-{uuid.uuid4().hex[:8]}"
    latest = datetime.now(UTC) - timedelta(minutes=5)
    once = erasure(student, latest)
    await apply_case_event(lanes.triage, once, CASES)
    await apply_case_event(lanes.triage, once, CASES)
    await apply_case_event(lanes.triage, erasure(student, latest - timedelta(hours=1)), CASES)

    marks = await lanes.observer.fetch(
        "SELECT erased_at FROM erasure_marks WHERE student_ref = $1", student
    )
    assert [m["erased_at"] for m in marks] == [latest]

    between = received(report_input(student, LOW_MOOD), latest - timedelta(minutes=30))
    await grade_urgent(lanes.triage, UrgentFirst(), [between])
    assert [a["report_ids"] for a in await lanes.assessments(student)] == [[between.evidence_id]]
    assert await lanes.held(student) == ([], [])


async def test_an_erasure_mark_ends_once_no_record_from_before_it_can_arrive(
    service_database: Any,
) -> None:
    """Housekeeping deletes a mark older than `erasure_mark_days` (the input topics' 14 days
    of retention and a day), and keeps a younger one."""
    pool = await asyncpg.create_pool(await service_database("triage"), min_size=1, max_size=2)
    assert pool is not None
    now = datetime.now(UTC)
    try:
        for student, age in (("stu_expired", 15.5), ("stu_recent", 14.5)):
            await pool.execute(
                "INSERT INTO erasure_marks (campus_id, student_ref, erased_at)"
                " VALUES ('c1', $1, $2)",
                student,
                now - timedelta(days=age),
            )
        triage = SimpleNamespace(pool=pool, policy=load_policy(), settings=TriageSettings())
        await housekeeping(triage)()  # type: ignore[arg-type]
        left = await pool.fetch("SELECT student_ref FROM erasure_marks")
        assert [r["student_ref"] for r in left] == ["stu_recent"]
    finally:
        await pool.close()
