"""Grading and escalation handlers against in-memory stores."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from shouwang_triage.adapters.policy_file import load_policy
from shouwang_triage.adapters.repository import DueAlert
from shouwang_triage.domain.evidence import ReportEvidence, ScreeningEvidence
from shouwang_triage.domain.ladder import AlertAction, DueTask
from shouwang_triage.domain.levels import Level
from shouwang_triage.service_layer.escalation import escalate_overdue
from shouwang_triage.service_layer.grading import GradingInput, grade_inputs

from .examples import NOW
from .fakes import FakeBatchStore, FakeEscalationStore

POLICY = load_policy()
RAISED = "shouwang.alert.raised"
GRADED = "shouwang.assessment.graded"


def report(
    student: str, *signals: str, reporter: str = "r1", lane: str = "urgent", minutes_ago: int = 0
) -> GradingInput:
    when = NOW - timedelta(minutes=minutes_ago)
    evidence = ReportEvidence(
        str(uuid.uuid4()), reporter, "dorm_leader", frozenset(signals), when, when
    )
    return GradingInput(
        str(uuid.uuid4()), "shouwang.reports.v1", "demo", student, None, evidence, lane
    )  # type: ignore[arg-type]


async def grade(store: FakeBatchStore, *items: GradingInput) -> list[Any]:
    return await grade_inputs(store, POLICY, list(items), NOW)  # type: ignore[arg-type]


async def test_a_mild_report_raises_a_tier_4_alert_with_derived_ids() -> None:
    store = FakeBatchStore()
    item = report("s1", "sleep_disturbance")
    [outcome] = await grade(store, item)
    assert outcome.action is AlertAction.RAISE
    [assessment] = store.events(GRADED)
    [alert] = store.events(RAISED)
    assert assessment["data"]["severity"] == "mild"
    assert alert["data"]["owner_role"] == "residence_counselor"
    assert alert["data"]["assessment_id"] == assessment["data"]["assessment_id"]
    assert [row["lane"] for row in store.outbox] == ["urgent", "urgent"]

    again = FakeBatchStore()
    await grade(again, item)
    assert [row["id"] for row in again.outbox] == [row["id"] for row in store.outbox]


async def test_a_duplicate_event_changes_nothing() -> None:
    store = FakeBatchStore()
    item = report("s1", "self_harm_talk")
    await grade(store, item)
    assert await grade(store, item, item) == []
    assert len(store.outbox) == 2


async def test_none_raises_no_alert() -> None:
    store = FakeBatchStore()
    item = report("s1", "sleep_disturbance")
    item = GradingInput(
        item.event_id,
        item.topic,
        item.campus_id,
        "s1",
        None,
        ReportEvidence("x", "r", "dorm_leader", frozenset(), NOW, NOW),
        "urgent",
    )
    [outcome] = await grade(store, item)
    assert outcome.level is Level.NONE
    assert store.events(RAISED) == []


async def test_a_higher_grade_supersedes_and_a_lower_one_is_recorded() -> None:
    store = FakeBatchStore()
    await grade(store, report("s1", "sleep_disturbance"))
    [upgrade] = await grade(store, report("s1", "suicide_attempt"))
    assert upgrade.action is AlertAction.UPGRADE
    first, second = store.events(RAISED)
    assert second["data"]["supersedes_alert_id"] == first["data"]["alert_id"]
    assert second["data"]["inform_external"] == ["campus_security", "emergency_services"]
    assert second["data"]["notify_on_duty"] is True
    assert store.alerts[first["data"]["alert_id"]]["status"] == "superseded"

    # Same student, later: the attempt ages out of the 3-month critical rule.
    later = await grade_inputs(
        store,
        POLICY,
        [report("s1", "dorm_conflict", minutes_ago=-91 * 24 * 60)],
        NOW + timedelta(days=91),
    )  # type: ignore[arg-type]
    assert later[0].action is AlertAction.KEEP_LOWER
    assessment = store.events(GRADED)[-1]
    assert assessment["data"]["severity"] == "mild"
    assert assessment["data"]["previous_severity"] == "critical"
    assert any(r["rule_id"] == "alert.kept_open" for r in assessment["data"]["reasons"])
    assert len(store.lowered) == 1
    assert len(store.events(RAISED)) == 2


async def test_in_a_batch_each_input_sees_only_what_came_before_it() -> None:
    store = FakeBatchStore()
    first, second = report("s1", "sleep_disturbance"), report("s1", "suicide_plan", reporter="r2")
    outcomes = await grade(store, first, second)
    assert [o.level for o in outcomes] == [Level.MILD, Level.CRITICAL]
    assert [o.action for o in outcomes] == [AlertAction.RAISE, AlertAction.UPGRADE]
    graded = store.events(GRADED)
    assert graded[0]["data"]["report_ids"] == [first.evidence.report_id]  # type: ignore[union-attr]
    mild_alert = store.alerts[outcomes[0].alert_id]
    assert mild_alert["status"] == "superseded"
    assert mild_alert["superseded_by"] == outcomes[1].alert_id


async def test_a_late_record_after_an_erasure_is_not_the_next_assessment_s_previous_grade() -> None:
    """A record received before the student's erasure but graded after it raises its alert and
    stores no grade; the next input's assessment names the stored grade as `previous_severity`,
    not the late record's (which nothing keeps)."""
    store = FakeBatchStore()
    store.erased[("demo", "s1")] = NOW - timedelta(minutes=30)
    late = report("s1", "suicide_plan", minutes_ago=40)
    after = report("s1", "sleep_disturbance", reporter="r2", minutes_ago=5)
    outcomes = await grade(store, late, after)
    assert [o.level for o in outcomes] == [Level.CRITICAL, Level.MILD]
    graded = store.events(GRADED)
    assert [g["data"]["previous_severity"] for g in graded] == ["none", "none"]
    assert store.levels[("demo", "s1")] is Level.MILD  # the stored grade rests on `after` alone
    assert [a["level"] for a in store.alerts.values()] == [Level.CRITICAL]  # still open


async def test_census_results_and_their_alerts_take_the_bulk_lane() -> None:
    store = FakeBatchStore()
    await grade(store, report("s1", "self_harm_behavior", lane="bulk"))
    assert {row["lane"] for row in store.outbox} == {"bulk"}


async def test_an_assessment_says_where_its_input_came_from_for_outcome_figures() -> None:
    store = FakeBatchStore()
    item = report("s1", "sleep_disturbance", minutes_ago=3)
    census = GradingInput(
        str(uuid.uuid4()),
        "shouwang.census.v1",
        "demo",
        "s2",
        None,
        ScreeningEvidence("sc1", "phq9", (1, 1, 1, 1, 1, 1, 1, 1, 0), NOW, NOW),
        "bulk",
    )
    await grade(store, item, census)
    from_report, from_census = (e["data"] for e in store.events(GRADED))
    assert from_report["reporter_role"] == "dorm_leader"
    assert from_report["report_channel"] == "observed"
    assert from_report["instrument"] is None
    assert from_report["input_received_at"] == (NOW - timedelta(minutes=3)).isoformat().replace(
        "+00:00", "Z"
    )
    assert from_census["instrument"] == "phq9"
    assert from_census["census"] is True
    assert from_census["reporter_role"] is None
    assert from_census["report_channel"] is None


def due(owner: str, level: Level, escalation_level: int = 0) -> DueAlert:
    return DueAlert("a1", "demo", "s1", level, owner, escalation_level, NOW - timedelta(seconds=1))


async def test_an_overdue_alert_moves_one_tier_up_with_a_new_deadline() -> None:
    store = FakeEscalationStore([due("residence_counselor", Level.MILD)])
    [step] = await escalate_overdue(store, POLICY, NOW, 10)  # type: ignore[arg-type]
    assert step.owner == "community_psych_teacher"
    [(alert_id, assignment, level)] = store.moved
    assert (alert_id, level) == ("a1", 1)
    assert assignment.ack_deadline == NOW + timedelta(hours=24)
    [(envelope, lane)] = store.outbox
    assert lane == "urgent"
    assert envelope.data.from_role == "residence_counselor"
    assert envelope.data.missed_deadline == NOW - timedelta(seconds=1)


async def test_a_moderate_alert_stops_at_the_top_of_the_ladder() -> None:
    store = FakeEscalationStore([due("college_leader", Level.MODERATE, 3)])
    [step] = await escalate_overdue(store, POLICY, NOW, 10)  # type: ignore[arg-type]
    assert step.owner is None
    assert store.stopped == ["a1"]
    assert store.outbox == []


@pytest.mark.parametrize(("level", "every"), [(Level.SEVERE, 1), (Level.CRITICAL, 0.25)])
async def test_past_the_top_a_severe_or_critical_alert_re_alerts_with_the_on_duty_contact(
    level: Level, every: float
) -> None:
    tasks = (DueTask("same_day_risk_assessment", "counseling_center", NOW + timedelta(hours=9)),)
    store = FakeEscalationStore(
        [replace(due("college_leader", level, 4), realert_attempt=2, tasks=tasks, incomplete=True)]
    )
    [step] = await escalate_overdue(store, POLICY, NOW, 10)  # type: ignore[arg-type]
    assert (step.owner, step.realert_attempt) == ("college_leader", 3)
    assert store.stopped == []
    [(_, assignment, escalation_level)] = store.moved
    assert escalation_level == 5
    assert assignment.ack_deadline == NOW + timedelta(hours=every)
    [(envelope, lane)] = store.outbox
    event = envelope.data
    assert lane == "urgent"
    assert (event.from_role, event.owner_role) == ("college_leader", "college_leader")
    assert event.realert_attempt == 3
    assert event.notify_on_duty is True
    assert set(event.inform_roles) >= {"counseling_center", "residence_counselor"}
    assert [t.task for t in event.follow_up_tasks] == ["same_day_risk_assessment"]
    assert event.incomplete_sheet is True


async def test_an_alert_carries_its_tasks_and_a_rule_s_shorter_deadline() -> None:
    store = FakeBatchStore()
    await grade(store, report("s1", "missing_contact"))
    [alert] = store.events(RAISED)
    data = alert["data"]
    assert data["severity"] == "moderate"
    assert data["owner_role"] == "community_psych_teacher"
    assert data["ack_deadline"] == (NOW + timedelta(hours=2)).isoformat().replace("+00:00", "Z")
    assert data["follow_up_tasks"] == [
        {
            "task": "locate_student",
            "assigned_role": "residence_counselor",
            "due_at": (NOW + timedelta(hours=2)).isoformat().replace("+00:00", "Z"),
        }
    ]
    assert data["notify_on_duty"] is False
    assert data["realert_attempt"] == 0
    assert data["incomplete_sheet"] is False


async def test_an_incomplete_sheet_is_flagged_on_the_assessment_and_the_alert() -> None:
    store = FakeBatchStore()
    when = NOW - timedelta(minutes=1)
    sheet = ScreeningEvidence(
        str(uuid.uuid4()),
        "phq9",
        (1, 1, 0, 1, 1, 1, 1, 1, 3),
        when,
        when,
        unanswered=frozenset({3}),
    )
    item = GradingInput(str(uuid.uuid4()), "shouwang.census.v1", "demo", "s1", None, sheet, "bulk")
    await grade(store, item)
    [assessment] = store.events(GRADED)
    [alert] = store.events(RAISED)
    assert assessment["data"]["incomplete_sheet"] is True
    assert alert["data"]["incomplete_sheet"] is True
    assert alert["data"]["severity"] == "severe"
    # the answered items make 10 whatever item 3 says: a floor the blank can only raise
    assert [r["rule_id"] for r in assessment["data"]["reasons"]] == [
        "phq9.item9.frequent",
        "phq9.total.moderate",
    ]


async def test_a_census_sheet_with_only_its_suicide_item_blank_asks_a_person_to_ask() -> None:
    """Policy 2026.12-5: a PHQ-9 answered 0 everywhere but a blank item 9 raised nothing; now
    tier 5 owns a moderate alert with a C-SSRS screen, and the reason says to ask."""
    store = FakeBatchStore()
    when = NOW - timedelta(minutes=1)
    sheet = ScreeningEvidence(
        str(uuid.uuid4()), "phq9", (0,) * 9, when, when, unanswered=frozenset({9})
    )
    item = GradingInput(str(uuid.uuid4()), "shouwang.census.v1", "demo", "s1", None, sheet, "bulk")
    await grade(store, item)
    [assessment] = store.events(GRADED)
    [alert] = store.events(RAISED)
    assert assessment["data"]["policy_version"] == "2026.12-5"
    assert (alert["data"]["severity"], alert["data"]["owner_role"]) == (
        "moderate",
        "community_psych_teacher",
    )
    assert [t["task"] for t in alert["data"]["follow_up_tasks"]] == ["cssrs_screen"]
    [reason] = assessment["data"]["reasons"]
    assert reason["rule_id"] == "phq9.item9.unanswered"
    assert reason["text_zh"].startswith("自杀条目未作答，须询问")
    assert reason["text_en"].startswith("The suicide item was left unanswered: ask.")
