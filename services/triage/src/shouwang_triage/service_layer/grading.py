"""Grade reports and screenings: record them, regrade each student's window, raise or keep alerts.

An alert is raised only when it asks something new of a person: while an acknowledged alert's
case is open, a grade it already covers is published with an `alert.covered` reason and no
alert (`domain.realerts`).

Everything happens in the caller's transaction: the processed-event marks, the evidence, the
grades, the alerts and the outbox rows commit together or not at all. Inputs are handled as a
batch (a census batch, or a single report as a batch of one) with set-based reads and writes,
yet each input is graded exactly as if it had come alone, in order.

A report or screening received before its student's erasure on request but graded after triage
applied it (its consumer far behind, a retried batch; the erasure's mark says when,
`adapters.erasure`) is a safety input like any other: it is graded on everything triage knows
of the student, its assessment published and any alert it warrants raised (alerts outlive an
erasure anyway). Then triage holds what it would hold had the input been graded before the
erasure and erased with the rest: its evidence is not stored, and its grading writes no grade
row, leaving the stored grade as it was (graded after the erasure, on later evidence, or none).
An input received after the erasure is graded, and its grade stored, on the evidence received
after the erasure alone, as if the earlier input had been erased: never on the late one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any, Literal

from shouwang_contracts.events.triage import AlertRaised, AssessmentGraded, Reason
from shouwang_contracts.instruments import Instrument
from shouwang_contracts.vocabulary import ReportChannel, Role, Severity
from shouwang_servicekit.cooperative import TimeSlice

from ..adapters.batch import BatchStore, GradingWrites, StudentKey
from ..adapters.rows import NewAlert, outbox_row
from ..domain.evidence import ReportEvidence, ScreeningEvidence, Situation
from ..domain.grading import Grade, ReasonLine, grade
from ..domain.ladder import AlertAction, OpenAlert, decide_alert, due_tasks, first_assignment
from ..domain.levels import Level
from ..domain.policy import GradingPolicy
from ..domain.realerts import HeldAlert, covered_reason, covers_of, evidence_of, news_for
from .events import derived_id, follow_up_tasks, wrap

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

    @property
    def key(self) -> StudentKey:
        return (self.campus_id, self.student_ref)

    @property
    def evidence_id(self) -> str:
        e = self.evidence
        return e.report_id if isinstance(e, ReportEvidence) else e.screening_id


@dataclass(frozen=True, slots=True)
class GradingOutcome:
    """What grading one input did, for metrics and tests."""

    item: GradingInput
    assessment_id: str
    level: Level
    previous: Level
    action: AlertAction
    alert_id: str | None


async def grade_inputs(
    store: BatchStore,
    policy: GradingPolicy,
    items: list[GradingInput],
    now: datetime,
    pause: Callable[[], Awaitable[None]] | None = None,
    zone: tzinfo = UTC,
) -> list[GradingOutcome]:
    """Grade inputs in order in the store's transaction; already-processed events are skipped.

    `pause`, if given, is awaited whenever grading has held the event loop for a time slice: a
    census batch uses it to let a tier report that arrived meanwhile run first, instead of
    holding the loop for the batch. `zone` is the campus time zone reasons date sheets in.
    """
    since = now - policy.retention
    known = await store.begin(
        [(i.event_id, i.topic) for i in items],
        {i.key for i in items},
        [i.evidence_id for i in items],
        since,
    )
    fresh: list[GradingInput] = []
    for item in items:  # a duplicate inside the batch counts once too
        if item.event_id in known.fresh:
            fresh.append(item)
            known.fresh.discard(item.event_id)
    if not fresh:
        return []

    # The new evidence joins the windows here rather than being read back after an insert:
    # as stored, an evidence id already on file wins and only what is inside the window counts.
    writes = GradingWrites()
    windows = known.windows
    erased = Erasures(known.erased)
    for item in fresh:
        if item.evidence_id in known.stored_evidence:
            continue
        known.stored_evidence.add(item.evidence_id)
        if not erased.covers(item.key, item.evidence):
            writes.evidence.append((item.campus_id, item.student_ref, item.evidence))
        if item.evidence.received_at >= since:
            windows.setdefault(item.key, []).append(item.evidence)

    # Evidence of inputs later in this batch is hidden from earlier ones, so each input is
    # graded on what had arrived up to and including itself.
    pending = {i.evidence_id for i in fresh}
    levels, open_alerts = known.levels, known.open_alerts
    # Acknowledged alerts cover later grades only while their case is open.
    holding = Holding(
        {k: h for k, h in known.held.items() if h.still_held(known.closed.get(k, ()))},
        set(known.held),
        zone,
    )
    outcomes = []
    held = TimeSlice()
    for item in fresh:
        if pause is not None and held.over():
            await pause()
            held.renew()
        pending.discard(item.evidence_id)
        seen = [e for e in windows.get(item.key, ()) if _evidence_id(e) not in pending]
        late = erased.covers(item.key, item.evidence)
        if not late:
            seen = [e for e in seen if not erased.covers(item.key, e)]
        situation = Situation(
            now,
            tuple(e for e in seen if isinstance(e, ReportEvidence)),
            tuple(e for e in seen if isinstance(e, ScreeningEvidence)),
            known.closed.get(item.key, ()),
        )
        result = grade(policy, policy.for_campus(item.campus_id), situation, zone)
        outcome = _grade_one(
            policy,
            item,
            result,
            levels.get(item.key, Level.NONE),
            open_alerts,
            holding,
            writes,
            now,
            keep_grade=not late,
        )
        if not late:
            # A late record's grade is not stored, so it is no later input's previous grade:
            # `previous_severity` always names what the student's stored grade says.
            levels[item.key] = outcome.level
        outcomes.append(outcome)

    await store.save(writes)
    return outcomes


@dataclass(frozen=True, slots=True)
class Erasures:
    """The batch's students erased on request, with when (`adapters.erasure`, while the mark
    lasts): evidence received at that time or before is what the erasure took."""

    marks: dict[StudentKey, datetime]

    def covers(self, key: StudentKey, evidence: ReportEvidence | ScreeningEvidence) -> bool:
        erased_at = self.marks.get(key)
        return erased_at is not None and evidence.received_at <= erased_at


@dataclass(slots=True)
class Holding:
    """The batch's acknowledged alerts whose case is open (`held`), the students that had
    any acknowledged alert nobody superseded (`releasable`), and the campus time zone."""

    held: dict[StudentKey, HeldAlert]
    releasable: set[StudentKey]
    zone: tzinfo

    def covered_reason(self, policy: GradingPolicy, held: HeldAlert) -> Reason:
        day = held.acknowledged_at.astimezone(self.zone).date().isoformat()
        return _reason_of(covered_reason(policy, held, day))

    def release(self, key: StudentKey, by_alert_id: str, writes: GradingWrites) -> None:
        """A newer alert supersedes the student's acknowledged ones: they cover no more."""
        self.held.pop(key, None)
        if key in self.releasable:
            self.releasable.discard(key)
            writes.released.append((*key, by_alert_id))


def _grade_one(
    policy: GradingPolicy,
    item: GradingInput,
    result: Grade,
    previous: Level,
    open_alerts: dict[StudentKey, OpenAlert],
    holding: Holding,
    writes: GradingWrites,
    now: datetime,
    *,
    keep_grade: bool,
) -> GradingOutcome:
    open_alert = open_alerts.get(item.key)
    held = holding.held.get(item.key)
    news = news_for(policy, result, item.evidence, held) if held is not None else None
    action = decide_alert(result.level, open_alert, held, news)
    assessment_id = derived_id("assessment", item.event_id)
    reasons = [_reason_of(r) for r in result.reasons]
    if action is AlertAction.COVERED and held is not None:
        reasons.append(holding.covered_reason(policy, held))
    if action is AlertAction.KEEP_LOWER and open_alert is not None:
        reasons.append(_kept_open_reason(open_alert))
        writes.lowered.append(
            (
                assessment_id,
                open_alert.alert_id,
                item.campus_id,
                item.student_ref,
                open_alert.level.id,
                result.level.id,
                now,
            )
        )
    if keep_grade:
        writes.grades[item.key] = (
            item.campus_id,
            item.student_ref,
            result.level.id,
            [r.model_dump() for r in reasons],
            result.policy_version,
            assessment_id,
            now,
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
        incomplete_sheet=result.incomplete,
        **_source_of(item),
    )
    writes.outbox.append(outbox_row(_wrap(assessment, "assessment-event", item, now), item.lane))

    alert_id = None
    if action in (AlertAction.RAISE, AlertAction.UPGRADE):
        alert = _new_alert(policy, item, result, assessment_id, now)
        alert_id = alert.alert_id
        if open_alert is not None:
            # The lower alert stops climbing; the higher one starts on its own (faster) rung.
            if open_alert.alert_id in writes.alerts:
                writes.alerts[open_alert.alert_id].superseded_by = alert_id
            else:
                writes.superseded.append((open_alert.alert_id, alert_id))
        writes.alerts[alert_id] = alert
        holding.release(item.key, alert_id, writes)
        open_alerts[item.key] = OpenAlert(
            alert_id, result.level, alert.assignment.owner, 0, alert.assignment.ack_deadline
        )
        raised = AlertRaised(
            alert_id=alert_id,
            assessment_id=assessment_id,
            student_ref=item.student_ref,
            severity=Severity(result.level.id),
            owner_role=Role(alert.assignment.owner),
            inform_roles=[Role(r) for r in alert.assignment.inform],
            inform_external=list(alert.assignment.inform_external),
            supersedes_alert_id=open_alert.alert_id if open_alert else None,
            ack_deadline=alert.assignment.ack_deadline,
            escalation_level=0,
            policy_version=result.policy_version,
            raised_at=now,
            notify_on_duty=alert.assignment.notify_on_duty,
            follow_up_tasks=follow_up_tasks(alert.tasks),
            incomplete_sheet=alert.incomplete,
        )
        # A census-raised alert stays in the census's (bulk) lane: thousands of them would
        # otherwise queue ahead of a tier report's alert. The bulk lane drains as fast as the
        # census is graded, so they wait only behind their own batch.
        writes.outbox.append(outbox_row(_wrap(raised, "alert-event", item, now), item.lane))
    return GradingOutcome(item, assessment_id, result.level, previous, action, alert_id)


def _new_alert(
    policy: GradingPolicy, item: GradingInput, result: Grade, assessment_id: str, now: datetime
) -> NewAlert:
    ladder = policy.for_campus(item.campus_id).ladder
    return NewAlert(
        alert_id=derived_id("alert", item.event_id),
        campus_id=item.campus_id,
        student_ref=item.student_ref,
        assessment_id=assessment_id,
        level=result.level,
        assignment=first_assignment(ladder, result.level, now, result.ack_within),
        raised_at=now,
        policy_version=result.policy_version,
        tasks=due_tasks(result.tasks, now),
        incomplete=result.incomplete,
        covers=covers_of(result),
        covered_evidence=evidence_of(result),
    )


def _evidence_id(e: ReportEvidence | ScreeningEvidence) -> str:
    return e.report_id if isinstance(e, ReportEvidence) else e.screening_id


def _wrap(
    payload: AssessmentGraded | AlertRaised, kind: str, item: GradingInput, now: datetime
) -> Any:
    return wrap(
        payload,
        event_id=derived_id(kind, item.event_id),
        campus_id=item.campus_id,
        student_ref=item.student_ref,
        time=now,
        traceparent=item.traceparent,
    )


def _source_of(item: GradingInput) -> dict[str, Any]:
    """Where the graded input came from, as the assessment event carries it for stats."""
    evidence = item.evidence
    if isinstance(evidence, ReportEvidence):
        return {
            "reporter_role": Role(evidence.reporter_role),
            "report_channel": ReportChannel(evidence.channel),
            "input_received_at": evidence.received_at,
        }
    return {
        "instrument": Instrument(evidence.instrument),
        "census": item.lane == "bulk",
        "input_received_at": evidence.received_at,
    }


def _reason(rule_id: str, level: Level, zh: str, en: str) -> Reason:
    return Reason(rule_id=rule_id, severity=Severity(level.id), text_zh=zh, text_en=en)


def _reason_of(line: ReasonLine) -> Reason:
    return Reason(
        rule_id=line.rule_id,
        severity=Severity(line.level.id),
        text_zh=line.text.zh,
        text_en=line.text.en,
        held_by_screening_id=line.held_by,
    )


def _kept_open_reason(alert: OpenAlert) -> Reason:
    label = Severity(alert.level.id)
    return _reason(
        "alert.kept_open",
        alert.level,
        f"新的研判等级低于仍未确认的{label.label('zh-CN')}预警；该预警保持开启，直至有人确认。",
        f"The new grade is lower than the unacknowledged {label.label('en').lower()} alert; "
        "that alert stays open until someone acknowledges it.",
    )
