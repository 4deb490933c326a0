"""A tier report about a student whose census row is being graded at that very moment.

The census lane grades a batch in one transaction that locks its students' open alerts, and
between time slices it steps aside while urgent work runs (`UrgentFirst`). A report about
one of those students waits for that lock. The census then must not wait for the report:
each waiting for the other stopped both lanes of triage for good (the report never graded,
every later report queued behind it) in the end-to-end demo's second term.

Real PostgreSQL (the service's own migrated database); the two lanes' handlers run in one
event loop, as in the service, with the gate they share.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest
from shouwang_servicekit.transient import is_transient
from shouwang_triage.container import Triage
from shouwang_triage.entrypoints.consumers import UrgentFirst, grade_census, grade_urgent
from shouwang_triage.service_layer.grading import GradingInput

from .helpers import eventually
from .lanes import CAMPUS, LOW_MOOD, Lanes, cancel_all, census_input, open_lanes, report_input

pytestmark = pytest.mark.integration

# Far beyond any wait the scenario needs: reaching it means the lanes wait for each other.
DEADLOCKED_AFTER = 90.0


async def grade_report(triage: Triage, gate: UrgentFirst, item: GradingInput) -> None:
    """As the reports consumer grades one: a transient failure is tried again, never skipped.

    A report that waits for the census reads what the census committed, so it no longer
    raises an alert beside the census's new one (`test_report_after_census.py` grades it in
    one try)."""
    while True:
        try:
            await grade_urgent(triage, gate, [item])
            return
        except Exception as exc:
            if not is_transient(exc):
                raise


async def test_a_report_about_a_student_in_the_census_batch_being_graded_is_graded(
    service_database: Any,
) -> None:
    async with open_lanes(await service_database("triage")) as lanes:
        await _report_and_census_meet(lanes)


async def _report_and_census_meet(lanes: Lanes) -> None:
    triage, observer = lanes.triage, lanes.observer
    gate = UrgentFirst()
    student = f"s-{uuid.uuid4().hex[:8]}"
    tasks: list[asyncio.Task[None]] = []
    try:
        # Last term's report left the student with an open (unacknowledged) alert.
        await grade_urgent(triage, gate, [report_input(student, LOW_MOOD)])
        alert_id = await observer.fetchval(
            "SELECT alert_id FROM alerts WHERE student_ref = $1 AND status = 'open'", student
        )
        assert alert_id is not None

        async def census_holds_the_alert() -> bool:
            async with observer.transaction():
                try:
                    await observer.execute(
                        "SELECT 1 FROM alerts WHERE alert_id = $1 FOR UPDATE NOWAIT", alert_id
                    )
                except asyncpg.LockNotAvailableError:
                    return True
                return False

        async def report_waits_or_census_committed() -> bool:
            committed = await observer.fetchval(
                "SELECT count(*) FROM evidence WHERE evidence_id = $1", census[0].evidence_id
            )
            return bool(committed) or await lanes.someone_waits_for_a_lock()

        # This term's census: the student's row first, then enough rows that grading them
        # outlasts many time slices, so the census steps aside inside its transaction.
        census = [census_input(student, (1, 1, 1, 0, 0, 0, 3, 0, 2))] + [
            census_input(f"c-{uuid.uuid4().hex[:8]}", (1, 0, 1, 0, 1, 0, 1, 0, 0))
            for _ in range(300)
        ]
        report = report_input(student, LOW_MOOD)
        # A report about someone else is being graded: the census steps aside for it, with
        # the student's alert locked, until it is done.
        async with gate.urgent([(CAMPUS, "someone-else")]):
            tasks.append(asyncio.create_task(grade_census(triage, gate, census)))
            await eventually(census_holds_the_alert, DEADLOCKED_AFTER)
            # The dorm-room leader's report about the student arrives: it waits for the lock
            # (or the census, seeing it, goes on and commits first).
            tasks.append(asyncio.create_task(grade_report(triage, gate, report)))
            await eventually(report_waits_or_census_committed, DEADLOCKED_AFTER)

        try:
            async with asyncio.timeout(DEADLOCKED_AFTER):
                await asyncio.gather(*tasks)
        except TimeoutError:
            pytest.fail("the census waits for the report, the report for the census's lock")

        # The census finished its batch, then the report was graded on everything, the
        # census row included, and its assessment names the report: casework attaches it
        # to the student's case.
        graded = await lanes.assessments(student)
        by_report = [g for g in graded if g["trigger"] == "report"]
        assert [report.evidence_id in g["report_ids"] for g in by_report] == [False, True]
        assert census[0].evidence_id in by_report[-1]["screening_ids"]
        assert await observer.fetchval("SELECT count(*) FROM evidence") == 303
    finally:
        await cancel_all(tasks)
