"""Grade one report or screening: record it, regrade the window, raise or keep the alert.

Everything happens in the caller's transaction: the processed-event mark, the evidence, the
grade, the alert and the outbox rows commit together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from shouwang_contracts.events.triage import AlertRaised, AssessmentGraded, Reason
from shouwang_contracts.vocabulary import Role, Severity

from ..adapters.repository import TriageStore
from ..domain.evidence import ReportEvidence, ScreeningEvidence, Situation
from ..domain.grading import Grade, grade
from ..domain.ladder import AlertAction, OpenAlert, decide_alert, first_assignment
from ..domain.levels import Level
from ..domain.policy import GradingPolicy
from .events import derived_id, wrap

Trigger = Literal["report", "screening"]
Lane = Literal["urgent", "bulk"]


@dataclass(frozen=True, slots=True)
class GradingInput:
    """One incoming report or screening, with what the envelope said about it."""

    event_id: str
    topic: str
    campus_id: str
    student_ref: str
    traceparent: str | None
    evidence: ReportEvidence | ScreeningEvidence
    lane: Lane

    @property
    def trigger(self) -> Trigger:
        return "report" if isinstance(self.evidence, ReportEvidence) else "screening"


@dataclass(frozen=True, slots=True)
class GradingOutcome:
    """What grading one input did, for metrics and tests."""

    assessment_id: str
    level: Level
    previous: Level
    action: AlertAction
    alert_id: str | None


async def grade_input(
    store: TriageStore, policy: GradingPolicy, item: GradingInput, now: datetime
) -> GradingOutcome | None:
    """Grade one input in the store's transaction; None when the event was already processed."""
    if not await store.claim_event(item.event_id, item.topic):
        return None
    campus = policy.for_campus(item.campus_id)
    if isinstance(item.evidence, ReportEvidence):
        await store.add_report(item.campus_id, item.student_ref, item.evidence)
    else:
        await store.add_screening(item.campus_id, item.student_ref, item.evidence)

    reports, screenings = await store.window(item.campus_id, item.student_ref, now - campus.window)
    closed = await store.closed_cases(item.campus_id, item.student_ref)
    result = grade(policy, campus, Situation(now, reports, screenings, closed))

    stored = await store.current_grade(item.campus_id, item.student_ref)
    previous = Level.from_id(stored.severity) if stored else Level.NONE
    open_alert = await store.open_alert(item.campus_id, item.student_ref)
    action = decide_alert(result.level, open_alert)

    assessment_id = derived_id("assessment", item.event_id)
    reasons = [
        _reason(line.rule_id, line.level, line.text.zh, line.text.en) for line in result.reasons
    ]
    if action is AlertAction.KEEP_LOWER and open_alert is not None:
        reasons.append(_kept_open_reason(open_alert))
        await store.record_lowered_grade(
            assessment_id=assessment_id,
            alert=open_alert,
            campus_id=item.campus_id,
            student_ref=item.student_ref,
            new_level=result.level,
            recorded_at=now,
        )

    await store.save_grade(
        item.campus_id,
        item.student_ref,
        severity=result.level.id,
        reasons=[r.model_dump() for r in reasons],
        policy_version=result.policy_version,
        assessment_id=assessment_id,
        graded_at=now,
    )
    assessment = AssessmentGraded(
        assessment_id=assessment_id,
        student_ref=item.student_ref,
        severity=Severity(result.level.id),
        previous_severity=Severity(previous.id),
        reasons=reasons,
        policy_version=result.policy_version,
        trigger=item.trigger,
        report_ids=list(result.report_ids),
        screening_ids=list(result.screening_ids),
        graded_at=now,
    )
    await store.enqueue(
        _wrap(assessment, derived_id("assessment-event", item.event_id), item, now), item.lane
    )

    alert_id = None
    if action in (AlertAction.RAISE, AlertAction.UPGRADE):
        alert_id = await _raise_alert(store, policy, item, result, assessment_id, open_alert, now)
    return GradingOutcome(assessment_id, result.level, previous, action, alert_id)


async def _raise_alert(
    store: TriageStore,
    policy: GradingPolicy,
    item: GradingInput,
    result: Grade,
    assessment_id: str,
    superseded: OpenAlert | None,
    now: datetime,
) -> str:
    ladder = policy.for_campus(item.campus_id).ladder
    assignment = first_assignment(ladder, result.level, now)
    alert_id = derived_id("alert", item.event_id)
    if superseded is not None:
        # Stop the lower alert climbing; the higher one starts on its own (faster) rung.
        await store.supersede_alert(superseded.alert_id, alert_id)
    await store.insert_alert(
        alert_id=alert_id,
        campus_id=item.campus_id,
        student_ref=item.student_ref,
        assessment_id=assessment_id,
        level=result.level,
        assignment=assignment,
        raised_at=now,
        policy_version=result.policy_version,
    )
    raised = AlertRaised(
        alert_id=alert_id,
        assessment_id=assessment_id,
        student_ref=item.student_ref,
        severity=Severity(result.level.id),
        owner_role=Role(assignment.owner),
        inform_roles=[Role(r) for r in assignment.inform],
        inform_external=list(assignment.inform_external),
        supersedes_alert_id=superseded.alert_id if superseded else None,
        ack_deadline=assignment.ack_deadline,
        escalation_level=0,
        policy_version=result.policy_version,
        raised_at=now,
    )
    # Alerts always take the urgent lane: a census-raised alert must not wait behind the
    # census's own assessments either.
    await store.enqueue(
        _wrap(raised, derived_id("alert-event", item.event_id), item, now), "urgent"
    )
    return alert_id


def _wrap(
    payload: AssessmentGraded | AlertRaised, event_id: str, item: GradingInput, now: datetime
):  # type: ignore[no-untyped-def]
    return wrap(
        payload,
        event_id=event_id,
        campus_id=item.campus_id,
        student_ref=item.student_ref,
        time=now,
        traceparent=item.traceparent,
    )


def _reason(rule_id: str, level: Level, zh: str, en: str) -> Reason:
    return Reason(rule_id=rule_id, severity=Severity(level.id), text_zh=zh, text_en=en)


def _kept_open_reason(alert: OpenAlert) -> Reason:
    label = Severity(alert.level.id)
    return _reason(
        "alert.kept_open",
        alert.level,
        f"新的研判等级低于仍未确认的{label.label('zh-CN')}预警；该预警保持开启，直至有人确认。",
        f"The new grade is lower than the unacknowledged {label.label('en').lower()} alert; "
        "that alert stays open until someone acknowledges it.",
    )
