"""No repeat alert for what an owner already holds, end to end on real Kafka and PostgreSQL:
the acknowledgement in, a report in, the assessment out and no alert; a red flag, an alert."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events.casework import AlertAcknowledged, CaseClosed, CaseOutcome
from shouwang_contracts.vocabulary import Role, Severity

from .conftest import TriageFactory
from .helpers import Watcher, eventually, of_type, publish, report, unique

pytestmark = pytest.mark.integration

GRADED = "shouwang.assessment.graded"
RAISED = "shouwang.alert.raised"
CAMPUS = "demo"  # the default ladder: a critical alert waits 15 minutes before it escalates


def acknowledged(student: str, alert_id: str, case_id: str) -> Envelope[AlertAcknowledged]:
    payload = AlertAcknowledged(
        alert_id=alert_id,
        case_id=case_id,
        student_ref=student,
        acknowledged_by_ref="staff-1",
        acknowledged_by_role=Role.COUNSELING_CENTER,
        acknowledged_at=datetime.now(UTC),
    )
    return Envelope.wrap(payload, source="/shouwang/casework", campus_id=CAMPUS, subject=student)


def closed(student: str, case_id: str) -> Envelope[CaseClosed]:
    now = datetime.now(UTC)
    payload = CaseClosed(
        case_id=case_id,
        student_ref=student,
        outcome=CaseOutcome.RELIEVED,
        severity=Severity.CRITICAL,
        opened_at=now - timedelta(hours=1),
        closed_at=now,
    )
    return Envelope.wrap(payload, source="/shouwang/casework", campus_id=CAMPUS, subject=student)


def rules(assessment: dict[str, Any]) -> list[str]:
    return [r["rule_id"] for r in assessment["data"]["reasons"]]


async def test_an_acknowledged_critical_is_not_paged_again_until_a_red_flag_or_closure(
    kafka_bootstrap: str, triage_process: TriageFactory, service_database: Any
) -> None:
    database = await service_database("triage")
    await triage_process(database).start_async()
    student, case_id = unique("s"), unique("case")

    async def row(query: str, *args: object) -> Any:
        conn = await asyncpg.connect(database)
        try:
            return await conn.fetchval(query, *args)
        finally:
            await conn.close()

    async def acknowledge(alert_id: str) -> None:
        await publish(kafka_bootstrap, acknowledged(student, alert_id, case_id))
        await eventually(
            lambda: row("SELECT status = 'acknowledged' FROM alerts WHERE alert_id = $1", alert_id)
        )

    def graded(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return of_type(events, student, GRADED)

    def raised(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return of_type(events, student, RAISED)

    async with Watcher(kafka_bootstrap) as watcher:
        await publish(kafka_bootstrap, report(CAMPUS, student, ["suicide_attempt"]))
        await watcher.wait_for(lambda ev: len(raised(ev)) == 1)
        [first] = raised(watcher.events)
        await acknowledge(first["data"]["alert_id"])

        # Twenty minutes or twenty days later, nothing new: graded, published, not paged.
        await publish(kafka_bootstrap, report(CAMPUS, student, ["sleep_disturbance"]))
        await watcher.wait_for(lambda ev: len(graded(ev)) == 2)
        quiet = graded(watcher.events)[1]
        assert quiet["data"]["severity"] == "critical"
        assert "alert.covered" in rules(quiet)
        covered = quiet["data"]["reasons"][-1]
        assert first["data"]["alert_id"] in covered["text_zh"]

        # A plan is a new red flag: the owner must hear it, at once, at the same grade.
        await publish(kafka_bootstrap, report(CAMPUS, student, ["suicide_plan"]))
        await watcher.wait_for(lambda ev: len(raised(ev)) == 2)
        second = raised(watcher.events)[1]
        plan = graded(watcher.events)[2]
        assert second["data"]["severity"] == "critical"
        assert second["data"]["assessment_id"] == plan["data"]["assessment_id"]
        assert "alert.covered" not in rules(plan)
        assert second["data"]["inform_external"] == ["campus_security", "emergency_services"]
        await acknowledge(second["data"]["alert_id"])

        # The case closes: the holding ends and the remembered attempt pages again.
        await publish(kafka_bootstrap, closed(student, case_id))
        await eventually(
            lambda: row(
                "SELECT NOT held FROM alerts WHERE alert_id = $1", second["data"]["alert_id"]
            )
        )
        await publish(kafka_bootstrap, report(CAMPUS, student, ["sleep_disturbance"]))
        await watcher.wait_for(lambda ev: len(raised(ev)) == 3)
        await watcher.settle(1)

    assert [e["data"]["severity"] for e in graded(watcher.events)] == ["critical"] * 4
    third = raised(watcher.events)[2]
    assert third["data"]["assessment_id"] == graded(watcher.events)[3]["data"]["assessment_id"]
    assert len(raised(watcher.events)) == 3, "the covered sleep report raised no alert"
    # Triage's own record: the superseded acknowledged alerts name the alert that ended them.
    assert (
        await row("SELECT superseded_by FROM alerts WHERE alert_id = $1", first["data"]["alert_id"])
        == second["data"]["alert_id"]
    )
