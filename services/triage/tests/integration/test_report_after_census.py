"""A tier report that waited for a census batch about its student is graded with the census's
sheet, and without a retry.

The census lane grades a batch in one transaction and steps aside between time slices for
urgent work about other students (`UrgentFirst`). A report about a student of the batch waits
in PostgreSQL for the census to commit. Its grading must then read the student as the census
left them: the grading policy's rules are lower bounds only ("more evidence or a higher score
can never lower a grade", grading-policy.yaml, header; `domain.grading.grade` takes the highest
level any rule asks for), so a report graded after a census sheet is at least as grave as that
sheet. A report that read the student before the census committed was graded as if the sheet
did not exist (the stored current grade fell below the sheet), or raised an alert beside the
census's new one, which the one-open-alert index refused and the consumer tried again after a
second's back-off. About a student with no open alert the report did not even wait: it raised
its alert first, and the census's was refused, failing the census's whole batch.

Each test holds the census inside its transaction (stepping aside for a report about someone
else), lets the report start and waits until PostgreSQL shows it waiting for a lock (or it is
done), and only then lets the census commit. Real PostgreSQL (the service's migrated database), both lanes'
handlers on one event loop; no sleeps as synchronisation.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from shouwang_contracts.topics import ASSESSMENTS
from shouwang_triage.adapters.batch import BatchStore
from shouwang_triage.adapters.policy_file import load_policy
from shouwang_triage.adapters.repository import QuietConnection, unit_of_work
from shouwang_triage.config import TriageSettings
from shouwang_triage.container import Triage
from shouwang_triage.domain.evidence import ReportEvidence
from shouwang_triage.entrypoints.consumers import UrgentFirst, grade_census, grade_urgent
from shouwang_triage.service_layer.grading import GradingInput, grade_inputs

from .helpers import eventually
from .test_urgent_first import CAMPUS, LOW_MOOD, census_input, report_input

pytestmark = pytest.mark.integration

# Far beyond any wait the scenario needs; reaching it fails the test (it never paces it).
STUCK_AFTER = 90.0
# PHQ-9 with item 9 = 2 ("more than half the days"), total 11: severe by phq9.item9.frequent
# (Simon GE et al. Psychiatr Serv 2013;64(12):1195-1202), whatever the total.
ITEM9_FREQUENT = (1, 1, 1, 1, 1, 1, 1, 1, 2)
# Healthy rows that make the batch outlast many time slices, so the census steps aside.
HEALTHY = (0, 1, 0, 0, 1, 0, 0, 0, 0)


@dataclass
class Lanes:
    triage: Triage
    observer: asyncpg.Connection

    async def grade_old_report(self, student: str, signals: list[str], days_ago: float) -> None:
        """Grade a report as triage did `days_ago` days ago (its alert is still open)."""
        then = datetime.now(UTC) - timedelta(days=days_ago)
        item = report_input(student, signals)
        assert isinstance(item.evidence, ReportEvidence)
        evidence = replace(item.evidence, observed_at=then - timedelta(days=100), received_at=then)
        async with unit_of_work(self.triage.pool) as store:
            await grade_inputs(
                BatchStore(store.conn), self.triage.policy, [replace(item, evidence=evidence)], then
            )

    async def census_then_report(self, census: list[GradingInput], report: GradingInput) -> None:
        """Grade `census` and `report` so that the report reaches PostgreSQL while the census
        holds its batch's students, and the census commits only once the report waits for it
        (or, waiting for nothing, is done)."""
        # The report is graded as the reports consumer would, with a gate of its own: the
        # census cannot see it and keeps stepping aside until the test has seen the report
        # wait for a lock, and the block ends.
        await self.census_then(census, lambda: grade_urgent(self.triage, UrgentFirst(), [report]))

    async def census_then(
        self, census: list[GradingInput], other: Callable[[], Coroutine[Any, Any, None]]
    ) -> None:
        """Grade `census`; once its transaction has read its students, run `other` (a report,
        an erasure) while the census holds them, and let the census commit only once `other`
        waits for a lock (or, waiting for nothing, is done)."""
        # A large `longest_wait`: the census steps aside for the work about someone else
        # until the test ends that work, never on a timer.
        gate = UrgentFirst(longest_wait=STUCK_AFTER)
        tasks: list[asyncio.Task[None]] = []
        try:
            async with gate.urgent([(CAMPUS, "someone-else")]):
                tasks.append(asyncio.create_task(grade_census(self.triage, gate, census)))
                await eventually(self._census_read_its_students, STUCK_AFTER)
                done = asyncio.create_task(other())
                tasks.append(done)
                # (With nothing to wait for, `other` is done before the census commits.)
                await eventually(
                    lambda: done.done() or self.someone_waits_for_a_lock(), STUCK_AFTER
                )
            async with asyncio.timeout(STUCK_AFTER):
                await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(BaseException):
                    await task

    async def _census_read_its_students(self) -> bool:
        """The census's transaction has read its students (its claims gave it a transaction
        id) and is grading them: holding whatever it locks, before and after the fix alike."""
        reading = await self.observer.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND backend_xid IS NOT NULL AND state = 'idle in transaction'"
        )
        return bool(reading)

    async def someone_waits_for_a_lock(self) -> bool:
        waiting = await self.observer.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return bool(waiting)

    async def assessments(self, student: str) -> list[dict[str, Any]]:
        rows = await self.observer.fetch(
            "SELECT value FROM outbox WHERE topic = $1 AND key = $2 ORDER BY id",
            ASSESSMENTS,
            f"{CAMPUS}:{student}".encode(),
        )
        return [json.loads(row["value"])["data"] for row in rows]


@pytest.fixture
async def lanes(service_database: Any) -> AsyncIterator[Lanes]:
    async with open_lanes(await service_database("triage")) as opened:
        yield opened


@contextlib.asynccontextmanager
async def open_lanes(dsn: str) -> AsyncIterator[Lanes]:
    """Triage's grading on the migrated database at `dsn`, and an observer connection."""
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4, connection_class=QuietConnection)
    observer = await asyncpg.connect(dsn)
    triage = Triage(
        settings=TriageSettings(),
        policy=load_policy(),
        pool=pool,
        broker=None,
        relay=None,  # type: ignore[arg-type]
    )
    try:
        yield Lanes(triage, observer)
    finally:
        await observer.close()
        pool.terminate()


def census_batch(student: str, items: tuple[int, ...]) -> list[GradingInput]:
    """The student's sheet first, then 300 healthy rows of others."""
    return [census_input(student, items)] + [
        census_input(f"c-{uuid.uuid4().hex[:8]}", HEALTHY) for _ in range(300)
    ]


async def test_a_report_that_waited_for_the_census_is_not_graded_below_the_census_sheet(
    lanes: Lanes,
) -> None:
    student = f"s-{uuid.uuid4().hex[:8]}"
    # An alert raised months ago on a report long out of the window is still open (severe:
    # a suicide attempt more than 3 months before, redflag.suicide_attempt). The census's
    # severe sheet therefore raises no new alert: the census commits the grade alone.
    retention_days = lanes.triage.policy.retention.days
    await lanes.grade_old_report(student, ["suicide_attempt"], retention_days + 1)
    old_alert = await lanes.observer.fetchrow(
        "SELECT alert_id, severity FROM alerts WHERE student_ref = $1 AND status = 'open'",
        student,
    )
    assert old_alert is not None
    assert old_alert["severity"] == "severe"

    census = census_batch(student, ITEM9_FREQUENT)
    report = report_input(student, LOW_MOOD)  # moderate alone (signal weights 2 + 1 + 1)
    await lanes.census_then_report(census, report)

    graded = await lanes.assessments(student)
    by_census = [g for g in graded if census[0].evidence_id in g["screening_ids"]]
    assert (by_census[0]["trigger"], by_census[0]["severity"]) == ("screening", "severe")
    # The report came after the sheet: graded on both, it is at least severe, and so is the
    # student's current grade. (Graded on the report alone it was moderate.)
    by_report = graded[-1]
    current = await lanes.observer.fetchval(
        "SELECT severity FROM grades WHERE student_ref = $1", student
    )
    assert (by_report["trigger"], by_report["severity"], current) == ("report", "severe", "severe")
    assert by_report["previous_severity"] == "severe"
    assert report.evidence_id in by_report["report_ids"]
    assert census[0].evidence_id in by_report["screening_ids"]
    # The old alert stays the student's one open alert.
    open_alerts = await lanes.observer.fetch(
        "SELECT alert_id FROM alerts WHERE student_ref = $1 AND status = 'open'", student
    )
    assert [r["alert_id"] for r in open_alerts] == [old_alert["alert_id"]]


async def test_a_report_that_waited_for_the_census_raising_an_alert_is_not_refused_and_retried(
    lanes: Lanes,
) -> None:
    student = f"s-{uuid.uuid4().hex[:8]}"
    # Last term's report left the student with an open moderate alert.
    await grade_urgent(lanes.triage, UrgentFirst(), [report_input(student, LOW_MOOD)])
    moderate = await lanes.observer.fetchval(
        "SELECT alert_id FROM alerts WHERE student_ref = $1 AND status = 'open'", student
    )
    assert moderate is not None

    # This term's sheet is severe: the census supersedes the moderate alert with a severe one.
    census = census_batch(student, ITEM9_FREQUENT)
    report = report_input(student, LOW_MOOD)
    # One try: a refusal by the one-open-alert index fails the test here (the consumer would
    # have dropped the whole batch's work and tried again after its back-off).
    await lanes.census_then_report(census, report)

    alerts = await lanes.observer.fetch(
        "SELECT alert_id, severity, status, superseded_by FROM alerts WHERE student_ref = $1"
        " ORDER BY raised_at",
        student,
    )
    assert [(a["severity"], a["status"]) for a in alerts] == [
        ("moderate", "superseded"),
        ("severe", "open"),
    ]
    assert alerts[0]["superseded_by"] == alerts[1]["alert_id"]
    by_report = (await lanes.assessments(student))[-1]
    assert report.evidence_id in by_report["report_ids"]
    assert census[0].evidence_id in by_report["screening_ids"]
    assert (by_report["severity"], by_report["previous_severity"]) == ("severe", "severe")


async def test_a_report_about_a_census_student_without_an_alert_waits_and_no_alert_is_refused(
    lanes: Lanes,
) -> None:
    student = f"s-{uuid.uuid4().hex[:8]}"
    # No alert yet: the census's severe sheet raises the student's first alert. A report
    # about them graded meanwhile must not raise one of its own beside it (the census's
    # alert would then be refused by the one-open-alert index, and its whole batch with it).
    census = census_batch(student, ITEM9_FREQUENT)
    report = report_input(student, LOW_MOOD)
    await lanes.census_then_report(census, report)

    alerts = await lanes.observer.fetch(
        "SELECT severity, status FROM alerts WHERE student_ref = $1", student
    )
    assert [(a["severity"], a["status"]) for a in alerts] == [("severe", "open")]
    by_report = (await lanes.assessments(student))[-1]
    assert census[0].evidence_id in by_report["screening_ids"]
    assert (by_report["severity"], by_report["previous_severity"]) == ("severe", "severe")
