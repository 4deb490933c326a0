"""Triage's two grading lanes on real PostgreSQL, driven by a test: a census batch held inside its
transaction while other work (a report, an erasure) about its students runs, with an observer
connection that sees who waits for a lock. Shared by test_urgent_first.py,
test_report_after_census.py, test_erasure.py and test_erasure_marks.py; no sleeps as
synchronisation."""

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
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events import StudentErased
from shouwang_contracts.topics import ASSESSMENTS, CENSUS, REPORTS
from shouwang_triage.adapters.batch import BatchStore
from shouwang_triage.adapters.policy_file import load_policy
from shouwang_triage.adapters.repository import QuietConnection, unit_of_work
from shouwang_triage.config import TriageSettings
from shouwang_triage.container import Triage
from shouwang_triage.domain.evidence import ReportEvidence, ScreeningEvidence
from shouwang_triage.entrypoints.consumers import UrgentFirst, grade_census, grade_urgent
from shouwang_triage.service_layer.grading import GradingInput, grade_inputs

from .helpers import eventually

CAMPUS = "demo"
LOW_MOOD = ["persistent_low_mood", "sleep_disturbance", "social_withdrawal"]
# Far beyond any wait the scenario needs; reaching it fails the test (it never paces it).
STUCK_AFTER = 90.0
# PHQ-9 with item 9 = 2 ("more than half the days"), total 11: severe by phq9.item9.frequent
# (Simon GE et al. Psychiatr Serv 2013;64(12):1195-1202), whatever the total.
ITEM9_FREQUENT = (1, 1, 1, 1, 1, 1, 1, 1, 2)
# Healthy rows that make the batch outlast many time slices, so the census steps aside.
HEALTHY = (0, 1, 0, 0, 1, 0, 0, 0, 0)


def report_input(student: str, signals: list[str]) -> GradingInput:
    now = datetime.now(UTC)
    evidence = ReportEvidence(
        report_id=str(uuid.uuid4()),
        reporter_ref=f"reporter-{uuid.uuid4().hex[:6]}",
        reporter_role="dorm_leader",
        signals=frozenset(signals),
        observed_at=now - timedelta(minutes=30),
        received_at=now,
    )
    return GradingInput(str(uuid.uuid4()), REPORTS, CAMPUS, student, None, evidence, "urgent")


def census_input(student: str, items: tuple[int, ...]) -> GradingInput:
    now = datetime.now(UTC)
    evidence = ScreeningEvidence(str(uuid.uuid4()), "phq9", items, now, now)
    return GradingInput(str(uuid.uuid4()), CENSUS, CAMPUS, student, None, evidence, "bulk")


def census_batch(student: str, items: tuple[int, ...]) -> list[GradingInput]:
    """The student's sheet first, then 300 healthy rows of others."""
    return [census_input(student, items)] + [
        census_input(f"c-{uuid.uuid4().hex[:8]}", HEALTHY) for _ in range(300)
    ]


def erasure(student: str, erased_at: datetime) -> Envelope[StudentErased]:
    """Casework's `student.erased` for a student of the campus, erased at `erased_at`."""
    return Envelope.wrap(
        StudentErased(student_ref=student, erased_at=erased_at, cases=1),
        source="/shouwang/casework",
        campus_id=CAMPUS,
        subject=student,
    )


def received(item: GradingInput, at: datetime) -> GradingInput:
    """The input as intake received it at `at` (observed half an hour before)."""
    evidence = item.evidence
    if isinstance(evidence, ScreeningEvidence):
        late = replace(evidence, received_at=at, administered_at=at - timedelta(minutes=30))
        return replace(item, evidence=late)
    return replace(
        item,
        evidence=replace(evidence, received_at=at, observed_at=at - timedelta(minutes=30)),
    )


async def cancel_all(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel a scenario's tasks still running and wait for them (a failed test leaves none)."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(BaseException):
            await task


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
            await cancel_all(tasks)

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

    async def held(self, student: str) -> tuple[list[str], list[tuple[str, str]]]:
        """The student's evidence ids (as received), and their grade's (assessment id,
        severity), that triage holds."""
        evidence = await self.observer.fetch(
            "SELECT evidence_id FROM evidence WHERE student_ref = $1 ORDER BY received_at",
            student,
        )
        grades = await self.observer.fetch(
            "SELECT assessment_id, severity FROM grades WHERE student_ref = $1", student
        )
        return [r["evidence_id"] for r in evidence], [
            (r["assessment_id"], r["severity"]) for r in grades
        ]

    async def alerts(self, student: str) -> list[tuple[str, str]]:
        """The student's alerts' (severity, status), as raised."""
        rows = await self.observer.fetch(
            "SELECT severity, status FROM alerts WHERE student_ref = $1 ORDER BY raised_at",
            student,
        )
        return [(r["severity"], r["status"]) for r in rows]


@contextlib.asynccontextmanager
async def open_lanes(dsn: str) -> AsyncIterator[Lanes]:
    """Triage's grading on the migrated database at `dsn`, and an observer connection."""
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=6, connection_class=QuietConnection)
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
