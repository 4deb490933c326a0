"""The repeat-alert sequences beside the policy: one student over days, through grading,
acknowledgements and closed cases, as the service layer runs them."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events.casework import AlertAcknowledged, CaseClosed, CaseOutcome
from shouwang_contracts.vocabulary import Role, Severity
from shouwang_triage.domain.evidence import ReportEvidence, ScreeningEvidence
from shouwang_triage.domain.policy import GradingPolicy
from shouwang_triage.service_layer.casework import acknowledge_alert, record_case_closed
from shouwang_triage.service_layer.grading import GradingInput, GradingOutcome, grade_inputs

from .examples import NOW, load_sequences, screening_items
from .fakes import FakeBatchStore

SEQUENCES = load_sequences()
CAMPUS, STUDENT = "demo", "s1"
RAISED = "shouwang.alert.raised"
GRADED = "shouwang.assessment.graded"


class Student:
    """One student's history in a fake store, step by step."""

    def __init__(self, policy: GradingPolicy) -> None:
        self.policy = policy
        self.store = FakeBatchStore()
        self.cases = 1
        self.acknowledged: str | None = None

    @property
    def case_id(self) -> str:
        return f"case-{self.cases}"

    def open_alert(self) -> dict[str, Any] | None:
        return next((a for a in self.store.alerts.values() if a["status"] == "open"), None)

    async def acknowledge(self, at: datetime, how: str) -> None:
        alert = self.open_alert()
        assert alert is not None, "nothing open to acknowledge"
        ack = AlertAcknowledged(
            alert_id=alert["alert_id"],
            case_id=None if how == "no_case" else self.case_id,
            student_ref=STUDENT,
            acknowledged_by_ref="staff-1",
            acknowledged_by_role=Role.COUNSELING_CENTER,
            acknowledged_at=at,
        )
        envelope = Envelope.wrap(ack, source="/casework", campus_id=CAMPUS, subject=STUDENT)
        assert await acknowledge_alert(self.store, envelope, "cases")  # type: ignore[arg-type]
        self.acknowledged = alert["alert_id"]

    async def close_case(self, at: datetime, severity: str) -> None:
        closed = CaseClosed(
            case_id=self.case_id,
            student_ref=STUDENT,
            outcome=CaseOutcome.RELIEVED,
            severity=Severity(severity),
            opened_at=at - timedelta(days=1),
            closed_at=at,
        )
        envelope = Envelope.wrap(closed, source="/casework", campus_id=CAMPUS, subject=STUDENT)
        await record_case_closed(self.store, envelope, "cases")  # type: ignore[arg-type]
        self.cases += 1

    async def input(self, at: datetime, step: dict[str, Any]) -> GradingOutcome:
        evidence: ReportEvidence | ScreeningEvidence
        if "report" in step:
            observed = at - timedelta(days=step.get("observed_days_ago", 0))
            evidence = ReportEvidence(
                str(uuid.uuid4()),
                step.get("reporter", "a"),
                "dorm_leader",
                frozenset(step["report"]),
                observed,
                at,
                step.get("channel", "observed"),
            )
        else:
            spec = step["screening"]
            evidence = ScreeningEvidence(
                str(uuid.uuid4()),
                spec["instrument"],
                screening_items(spec),
                at,
                at,
                behavior_recency=spec.get("behavior_recency"),
            )
        item = GradingInput(str(uuid.uuid4()), "inputs", CAMPUS, STUDENT, None, evidence, "urgent")
        [outcome] = await grade_inputs(self.store, self.policy, [item], at)  # type: ignore[arg-type]
        return outcome


@pytest.mark.parametrize("sequence", SEQUENCES, ids=[s["name"] for s in SEQUENCES])
async def test_sequence_alerts_as_the_table_says(
    policy: GradingPolicy, sequence: dict[str, Any]
) -> None:
    student = Student(policy)
    for number, step in enumerate(sequence["steps"]):
        at = NOW + timedelta(days=step.get("day", 0), hours=step.get("hour", 0))
        if "acknowledge" in step:
            await student.acknowledge(at, step["acknowledge"])
            continue
        if "close_case" in step:
            await student.close_case(at, step["close_case"])
            continue
        raised_before = len(student.store.events(RAISED))
        outcome = await student.input(at, step)
        where = f"step {number}: {step}"
        expect = step["expect"]
        assessment = student.store.events(GRADED)[-1]["data"]
        fired = [r["rule_id"] for r in assessment["reasons"]]
        raised = student.store.events(RAISED)[raised_before:]

        if "grade" in expect:
            assert outcome.level.id == expect["grade"], (where, fired)
        if expect["alert"] == "none":
            assert raised == [], where
        else:
            assert [r["data"]["severity"] for r in raised] == [expect["alert"]], (where, fired)
        if "action" in expect:
            assert outcome.action.value == expect["action"], where
        if "open" in expect:
            open_alert = student.open_alert()
            assert open_alert is not None, where
            assert open_alert["level"].id == expect["open"], where
        assert set(expect.get("rules", [])) <= set(fired), (where, fired)
        assert not set(expect.get("not_rules", [])) & set(fired), (where, fired)
        covered = [r for r in assessment["reasons"] if r["rule_id"] == "alert.covered"]
        assert bool(covered) == (outcome.action.value == "covered"), where
        for reason in covered:
            # The counselor reading the case sees which acknowledged alert covers it.
            assert student.acknowledged is not None
            assert student.acknowledged in reason["text_zh"]
            assert student.acknowledged in reason["text_en"]
