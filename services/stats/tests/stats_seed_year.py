"""The seed's year as events: 50 crisis events found (5 severe, 12 moderate, 33 mild) and 64
person-times relieved, with cycle times the test knows in advance.

Students come from the sample roster (`samples/roster_students.csv`, the colleges' export
shape): 40 students of three colleges; ten of the mild students have a second case later in
the year, after the first closed. Events are built as the producing services build them
(triage's assessments and alerts, casework's case, referral and follow-up events, the
directory), each with its own id, for one campus.
"""

from __future__ import annotations

import csv
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from shouwang_contracts.envelope import Envelope, Payload
from shouwang_contracts.events.casework import (
    AlertAcknowledged,
    CaseClosed,
    CaseOpened,
    CaseOutcome,
    CaseState,
    CaseTransitioned,
    FollowUpFinding,
    FollowUpStatus,
    FollowUpUpdated,
    ReferralStatus,
    ReferralUpdated,
    StudentRouting,
)
from shouwang_contracts.events.notify import (
    NotificationChannel,
    NotificationDelivered,
    NotificationFailed,
    RecipientKind,
)
from shouwang_contracts.events.triage import AlertEscalated, AlertRaised, AssessmentGraded
from shouwang_contracts.instruments import Instrument
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_contracts.vocabulary import Role, Severity

ROSTER = Path(__file__).resolve().parents[3] / "samples" / "roster_students.csv"
TZ = ZoneInfo("Asia/Shanghai")
YEAR = 2025
PSEUDONYMS = Pseudonymizer(b"stats-tests-pseudonym-key-0123456789abcdef")
ACK_WITHIN = {
    Severity.MILD: timedelta(hours=72),
    Severity.MODERATE: timedelta(hours=24),
    Severity.SEVERE: timedelta(hours=2),
    Severity.CRITICAL: timedelta(minutes=15),
}
OWNER = {
    Severity.MILD: Role.RESIDENCE_COUNSELOR,
    Severity.MODERATE: Role.COMMUNITY_PSYCH_TEACHER,
    Severity.SEVERE: Role.COUNSELING_CENTER,
    Severity.CRITICAL: Role.COUNSELING_CENTER,
}
# Where each grade's warnings came from, in turn.
SOURCES = {
    "severe": ["dorm_leader", "cssrs", "class_wellbeing_officer", "census", "residence_counselor"],
    "moderate": ["census", "floor_leader"],
    "mild": ["dorm_leader", "floor_leader", "class_wellbeing_officer", "census"],
}
STILL_OPEN = {16, 47, 48, 49}  # one moderate case in intervention, three mild in monitoring
ESCALATED = set(range(17, 23))  # six mild alerts nobody acknowledged within 72 h


def roster() -> list[tuple[str, str]]:
    """(学号, 学院) of the sample roster's students."""
    with ROSTER.open(encoding="utf-8-sig", newline="") as f:
        return [(row["学号"], row["学院"]) for row in csv.DictReader(f)]


@dataclass
class SeedYear:
    """The events of one campus's year and what the figures must say about them."""

    campus_id: str
    events: list[Envelope[Any]] = field(default_factory=list)
    colleges: dict[str, str] = field(default_factory=dict)  # student_ref -> college
    legs: dict[str, list[float]] = field(default_factory=dict)
    since_report: dict[str, list[float]] = field(default_factory=dict)
    relieved: int = 0
    escalations: int = 0
    delivery_seconds: list[float] = field(default_factory=list)  # WeCom, queued → delivered
    open_cases: dict[tuple[str, str], int] = field(default_factory=dict)  # (state, severity)

    def emit(self, payload: Payload, at: datetime) -> None:
        student = payload.student_ref  # type: ignore[attr-defined]
        self.events.append(
            Envelope.wrap(
                payload,
                source="/shouwang/test",
                campus_id=self.campus_id,
                subject=student,
                time=at,
            )
        )

    def measured(self, leg: str, start: datetime, end: datetime) -> None:
        self.legs.setdefault(leg, []).append((end - start).total_seconds())

    def reached(self, milestone: str, reported: datetime, at: datetime) -> None:
        self.since_report.setdefault(milestone, []).append((at - reported).total_seconds())


def seed_year(campus_id: str | None = None) -> SeedYear:
    """Build the year (a fresh campus id unless one is given)."""
    year = SeedYear(campus_id or f"seed-{uuid.uuid4().hex[:8]}")
    students = roster()
    refs = [PSEUDONYMS.student_ref(year.campus_id, number) for number, _ in students]
    january = datetime(YEAR, 1, 5, 9, 0, tzinfo=TZ)
    for ref, (_, college) in zip(refs, students, strict=True):
        year.colleges[ref] = college
        year.emit(
            StudentRouting(student_ref=ref, college=college, updated_at=january),
            january,
        )
    for i in range(50):
        if i < 5:
            grade, k = "severe", i
            severity = Severity.CRITICAL if i == 0 else Severity.SEVERE
        elif i < 17:
            grade, k, severity = "moderate", i - 5, Severity.MODERATE
        else:
            grade, k, severity = "mild", i - 17, Severity.MILD
        student = refs[i] if i < 40 else refs[i - 23]  # cases 40-49: second cases of 17-26
        if i < 40:
            reported = datetime(YEAR, 2, 1, 9, 0, tzinfo=TZ) + timedelta(days=3 * i)
        else:
            reported = datetime(YEAR, 8, 1, 9, 0, tzinfo=TZ) + timedelta(days=7 * (i - 40))
        _one_case(year, i, grade, k, severity, student, reported)
    return year


def _one_case(
    year: SeedYear,
    i: int,
    grade: str,
    k: int,
    severity: Severity,
    student: str,
    reported: datetime,
) -> None:
    source = SOURCES[grade][k % len(SOURCES[grade])]
    graded = reported + timedelta(seconds=2 + i % 5)
    assessment_id, alert_id, case_id = (str(uuid.uuid4()) for _ in range(3))
    year.measured("reported__graded", reported, graded)
    year.reached("graded", reported, graded)
    if source == "census":
        origin: dict[str, Any] = {"instrument": Instrument.PHQ9, "census": True}
    elif source == "cssrs":
        origin = {"instrument": Instrument.CSSRS_SCREENER, "census": False}
    else:
        origin = {"reporter_role": Role(source)}
    year.emit(
        AssessmentGraded(
            assessment_id=assessment_id,
            student_ref=student,
            severity=severity,
            previous_severity=Severity.NONE,
            reasons=[],
            policy_version="test",
            trigger="report" if "reporter_role" in origin else "screening",
            graded_at=graded,
            input_received_at=reported,
            **origin,
        ),
        graded,
    )
    deadline = graded + ACK_WITHIN[severity]
    year.emit(
        AlertRaised(
            alert_id=alert_id,
            assessment_id=assessment_id,
            student_ref=student,
            severity=severity,
            owner_role=OWNER[severity],
            ack_deadline=deadline,
            policy_version="test",
            raised_at=graded,
        ),
        graded,
    )
    if grade == "severe":
        _notified(year, student, alert_id, graded, k)
    opened = graded + timedelta(seconds=1)
    year.emit(
        CaseOpened(
            case_id=case_id,
            student_ref=student,
            severity=severity,
            owner_ref=None,
            owner_role=OWNER[severity],
            assessment_id=assessment_id,
            alert_id=alert_id,
            opened_at=opened,
        ),
        opened,
    )
    if grade == "severe":
        acknowledged = graded + timedelta(minutes=10 + 10 * k)
    elif grade == "moderate":
        acknowledged = graded + timedelta(hours=1 + k)
    elif i in ESCALATED:
        year.emit(
            AlertEscalated(
                alert_id=alert_id,
                student_ref=student,
                severity=severity,
                from_role=Role.RESIDENCE_COUNSELOR,
                owner_role=Role.COMMUNITY_PSYCH_TEACHER,
                ack_deadline=deadline + timedelta(hours=8),
                escalation_level=1,
                missed_deadline=deadline,
                escalated_at=deadline,
            ),
            deadline,
        )
        year.escalations += 1
        acknowledged = deadline + timedelta(hours=1 + k)
    else:
        acknowledged = graded + timedelta(hours=2 + k)
    year.emit(
        AlertAcknowledged(
            alert_id=alert_id,
            case_id=case_id,
            student_ref=student,
            acknowledged_by_ref="per_staff",
            acknowledged_by_role=OWNER[severity],
            acknowledged_at=acknowledged,
        ),
        acknowledged,
    )
    year.measured("graded__acknowledged", graded, acknowledged)
    year.reached("acknowledged", reported, acknowledged)
    Loop(year, case_id, student, severity, reported, acknowledged).run(i, grade, k)


def _notified(year: SeedYear, student: str, alert_id: str, queued: datetime, k: int) -> None:
    """Each severe alert reaches its owner over WeCom in 5k+5 seconds; the first one's SMS to
    the on-duty line fails."""
    common: dict[str, Any] = {
        "source_event_id": str(uuid.uuid4()),
        "source_event_type": AlertRaised.EVENT_TYPE,
        "alert_id": alert_id,
        "student_ref": student,
        "attempts": 1,
        "created_at": queued,
    }
    delivered = queued + timedelta(seconds=5 * k + 5)
    year.emit(
        NotificationDelivered(
            notification_id=str(uuid.uuid4()),
            recipient_kind=RecipientKind.STAFF,
            recipient_role=Role.COUNSELING_CENTER,
            channel=NotificationChannel.WECOM,
            delivered_at=delivered,
            **common,
        ),
        delivered,
    )
    year.delivery_seconds.append((delivered - queued).total_seconds())
    if k == 0:
        failed = queued + timedelta(minutes=2)
        year.emit(
            NotificationFailed(
                notification_id=str(uuid.uuid4()),
                recipient_kind=RecipientKind.ON_DUTY,
                channel=NotificationChannel.SMS,
                reason="channel_error",
                failed_at=failed,
                **common,
            ),
            failed,
        )


@dataclass
class Loop:
    """One case's way through the loop after its alert was acknowledged."""

    year: SeedYear
    case_id: str
    student: str
    severity: Severity
    reported: datetime
    acknowledged: datetime
    state: CaseState = CaseState.OPEN
    answered: datetime | None = None

    def move(self, to: CaseState, at: datetime) -> None:
        self.year.emit(
            CaseTransitioned(
                case_id=self.case_id,
                student_ref=self.student,
                from_state=self.state,
                to_state=to,
                severity=self.severity,
                actor_ref="per_staff",
                actor_role=Role.COUNSELING_CENTER,
                transitioned_at=at,
            ),
            at,
        )
        self.state = to

    def follow_up(self, scheduled: datetime, done: datetime, finding: FollowUpFinding) -> None:
        follow_up_id = str(uuid.uuid4())
        for version, status, at in (
            (1, FollowUpStatus.SCHEDULED, scheduled),
            (2, FollowUpStatus.COMPLETED, done),
        ):
            self.year.emit(
                FollowUpUpdated(
                    follow_up_id=follow_up_id,
                    case_id=self.case_id,
                    student_ref=self.student,
                    purpose="routine",
                    status=status,
                    due_at=done,
                    finding=finding if status is FollowUpStatus.COMPLETED else None,
                    version=version,
                    updated_at=at,
                ),
                at,
            )
        if finding is FollowUpFinding.RELIEVED:
            self.year.relieved += 1

    def run(self, i: int, grade: str, k: int) -> None:
        at = self.acknowledged
        intervenes = grade != "mild" or k % 3 == 0
        if intervenes:
            delay = {"severe": timedelta(minutes=20 * (k + 1)), "moderate": timedelta(hours=2 + k)}
            at = at + delay.get(grade, timedelta(hours=24 + k))
            self.move(CaseState.INTERVENTION, at)
            self.year.measured("acknowledged__intervened", self.acknowledged, at)
            self.year.reached("intervened", self.reported, at)
        else:
            at = at + timedelta(hours=6)
            self.move(CaseState.MONITORING, at)
        intervened = at
        if grade == "severe":
            at = self.refer(k, intervened)
        if i in STILL_OPEN:
            key = (self.state.value, self.severity.value)
            self.year.open_cases[key] = self.year.open_cases.get(key, 0) + 1
            return
        closed = self.reported + timedelta(days=20, hours=i)
        self.follow_up(
            closed - timedelta(days=5), closed - timedelta(days=1), FollowUpFinding.RELIEVED
        )
        if i % 10 == 9:  # a follow-up that found the student stable: not a relieved person-time
            self.follow_up(
                closed - timedelta(days=4), closed - timedelta(hours=20), FollowUpFinding.STABLE
            )
        self.move(CaseState.FOLLOW_UP, closed - timedelta(hours=12))
        self.move(CaseState.CLOSED, closed)
        self.year.emit(
            CaseClosed(
                case_id=self.case_id,
                student_ref=self.student,
                outcome=CaseOutcome.RELIEVED,
                severity=self.severity,
                opened_at=self.reported,
                closed_at=closed,
            ),
            closed,
        )
        self.year.reached("closed", self.reported, closed)
        if self.answered is not None:
            self.year.measured("referral_answered__closed", self.answered, closed)
        if i < 19:  # a second relieved contact after closing (结案后回访)
            done = closed + timedelta(days=7 + i)
            self.follow_up(closed + timedelta(days=1), done, FollowUpFinding.RELIEVED)
            self.year.measured("closed__followed_up", closed, done)
            self.year.reached("followed_up", self.reported, done)

    def refer(self, k: int, intervened: datetime) -> datetime:
        referral_id = str(uuid.uuid4())
        made = intervened + timedelta(days=1)
        self.move(CaseState.REFERRED, made)
        answered = self.answered = made + timedelta(hours=6 * (k + 1))
        returned = answered + timedelta(days=10)
        steps = [(1, ReferralStatus.PENDING, made)]
        if k == 4:
            steps.append((2, ReferralStatus.NOT_ACCEPTED, answered))
        else:
            steps += [
                (2, ReferralStatus.ACCEPTED, answered),
                (3, ReferralStatus.RETURNED, returned),
            ]
        for version, status, at in steps:
            self.year.emit(
                ReferralUpdated(
                    referral_id=referral_id,
                    case_id=self.case_id,
                    student_ref=self.student,
                    status=status,
                    destination_type="hospital",
                    version=version,
                    updated_at=at,
                ),
                at,
            )
        self.year.measured("intervened__referral_answered", intervened, answered)
        self.year.reached("referral_answered", self.reported, answered)
        if k == 4:  # not accepted: back to intervention on campus
            at = answered + timedelta(hours=1)
            self.move(CaseState.INTERVENTION, at)
            return at
        self.move(CaseState.AFTERCARE, returned)
        return returned
