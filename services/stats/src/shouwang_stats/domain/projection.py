"""The projection rules: which event moves which row, and how.

Every event becomes one or more *facts* about the things it names (an assessment, an alert, a
case, a referral, a follow-up, a student's placement). A fact folds into that thing's row
with a join: the earliest of two times, the graver of two severities, the state with the
latest time, the status with the highest version. A join is idempotent and does not care
about order, so:

- an event delivered twice, or a topic replayed twice, leaves every row as it was;
- the live consumers (topic by topic, in whatever interleaving the partitions give) and a
  rebuild (replaying everything at once) reach the same rows, and so the same figures;
- two partial rows of one thing (say, a rebuild's and the live consumer's) merge into the
  row both events would have made.

The figures are counted from these rows when they are read (see `figures`), never kept as
running totals that a duplicate could push up.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Self

from .figures import SEVERITY_ORDER, graver

CASE_STATES = (
    "open",
    "monitoring",
    "intervention",
    "referred",
    "aftercare",
    "follow_up",
    "closed",
)
REFERRAL_ANSWERS = frozenset({"accepted", "not_accepted"})


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def _first(a: Any, b: Any) -> Any:
    """The value already known, else the other: for fields every event of a thing agrees on."""
    return a if a is not None else b


class Row:
    """A projected thing. `merge` joins two rows of the same thing."""

    def merge(self, other: Self) -> None:
        raise NotImplementedError

    def key(self) -> tuple[Any, ...]:
        """What names the thing (the columns of ROW_KEYS)."""
        raise NotImplementedError

    @classmethod
    def columns(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))  # type: ignore[arg-type]

    def values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.columns())


@dataclass(slots=True)
class AssessmentRow(Row):
    """A graded warning: where it came from and how long grading took."""

    assessment_id: str
    campus_id: str
    student_ref: str
    severity: str
    source: str
    instrument: str
    reported_at: datetime | None
    graded_at: datetime

    def key(self) -> tuple[Any, ...]:
        return (self.assessment_id,)

    def merge(self, other: AssessmentRow) -> None:
        # One event per assessment: a second copy is the same event again.
        self.reported_at = _first(self.reported_at, other.reported_at)


@dataclass(slots=True)
class AlertRow(Row):
    """An alert, its current rung (owner and deadline) and how it ended."""

    alert_id: str
    campus_id: str
    student_ref: str
    assessment_id: str | None = None
    severity: str | None = None
    owner_role: str | None = None
    ack_deadline: datetime | None = None
    level: int | None = None
    raised_at: datetime | None = None
    acknowledged_at: datetime | None = None
    superseded_at: datetime | None = None
    case_id: str | None = None

    def key(self) -> tuple[Any, ...]:
        return (self.alert_id,)

    def merge(self, other: AlertRow) -> None:
        self.assessment_id = _first(self.assessment_id, other.assessment_id)
        self.severity = graver(self.severity, other.severity)
        self.raised_at = _earliest(self.raised_at, other.raised_at)
        self.acknowledged_at = _earliest(self.acknowledged_at, other.acknowledged_at)
        self.superseded_at = _earliest(self.superseded_at, other.superseded_at)
        self.case_id = _first(self.case_id, other.case_id)
        if other.level is not None and (self.level is None or other.level > self.level):
            self.level, self.owner_role, self.ack_deadline = (
                other.level,
                other.owner_role,
                other.ack_deadline,
            )


@dataclass(slots=True)
class EscalationRow(Row):
    """One missed deadline: the alert climbed from one tier to the next, or (`realert`) past
    the top rung re-alerted its owner."""

    alert_id: str
    level: int
    campus_id: str
    student_ref: str
    severity: str
    from_role: str
    to_role: str
    missed_deadline: datetime
    escalated_at: datetime
    realert: bool = False

    def key(self) -> tuple[Any, ...]:
        return (self.alert_id, self.level)

    def merge(self, other: EscalationRow) -> None:
        """One event per escalation step: nothing to join."""


@dataclass(slots=True)
class CaseRow(Row):
    """A case: when it opened, how grave it got, where it stands, its loop milestones."""

    case_id: str
    campus_id: str
    student_ref: str
    opened_at: datetime | None = None
    severity: str | None = None
    assessment_id: str | None = None
    alert_id: str | None = None
    state: str | None = None
    state_at: datetime | None = None
    closed_at: datetime | None = None
    outcome: str | None = None
    acknowledged_at: datetime | None = None
    intervened_at: datetime | None = None

    def key(self) -> tuple[Any, ...]:
        return (self.case_id,)

    def merge(self, other: CaseRow) -> None:
        self.opened_at = _earliest(self.opened_at, other.opened_at)
        self.severity = graver(self.severity, other.severity)
        self.assessment_id = _first(self.assessment_id, other.assessment_id)
        self.alert_id = _first(self.alert_id, other.alert_id)
        self.acknowledged_at = _earliest(self.acknowledged_at, other.acknowledged_at)
        self.intervened_at = _earliest(self.intervened_at, other.intervened_at)
        if _later_state(other.state, other.state_at, self.state, self.state_at):
            self.state, self.state_at = other.state, other.state_at
        if other.closed_at is not None and (
            self.closed_at is None
            or (other.closed_at, other.outcome or "") > (self.closed_at, self.outcome or "")
        ):
            self.closed_at, self.outcome = other.closed_at, other.outcome

    @property
    def is_closed(self) -> bool:
        """Closed now: a reopened case (back to monitoring or intervention) is not."""
        return self.state == "closed"


def _later_state(
    state: str | None, at: datetime | None, than_state: str | None, than_at: datetime | None
) -> bool:
    """Whether (state, at) is the later of two states; equal times go to the further state."""
    if state is None or at is None:
        return False
    if than_state is None or than_at is None:
        return True
    return (at, CASE_STATES.index(state)) > (than_at, CASE_STATES.index(than_state))


@dataclass(slots=True)
class ReferralRow(Row):
    """A referral (转介) and when it was made, answered and returned."""

    referral_id: str
    case_id: str
    campus_id: str
    student_ref: str
    status: str
    version: int
    made_at: datetime | None = None
    answered_at: datetime | None = None
    returned_at: datetime | None = None

    def key(self) -> tuple[Any, ...]:
        return (self.referral_id,)

    def merge(self, other: ReferralRow) -> None:
        if (other.version, other.status) > (self.version, self.status):
            self.version, self.status = other.version, other.status
        self.made_at = _earliest(self.made_at, other.made_at)
        self.answered_at = _earliest(self.answered_at, other.answered_at)
        self.returned_at = _earliest(self.returned_at, other.returned_at)


@dataclass(slots=True)
class FollowUpRow(Row):
    """A follow-up (回访): when it was due, whether it took place, and what it found."""

    follow_up_id: str
    case_id: str
    campus_id: str
    student_ref: str
    status: str
    version: int
    due_at: datetime
    scheduled_at: datetime | None = None
    completed_at: datetime | None = None
    finding: str | None = None

    def key(self) -> tuple[Any, ...]:
        return (self.follow_up_id,)

    def merge(self, other: FollowUpRow) -> None:
        if (other.version, other.status) > (self.version, self.status):
            self.version, self.status, self.due_at = other.version, other.status, other.due_at
        self.scheduled_at = _earliest(self.scheduled_at, other.scheduled_at)
        self.completed_at = _earliest(self.completed_at, other.completed_at)
        self.finding = _first(self.finding, other.finding)


@dataclass(slots=True)
class StudentRow(Row):
    """A student's college, from the directory: the latest entry wins."""

    campus_id: str
    student_ref: str
    college: str | None
    active: bool
    updated_at: datetime

    def key(self) -> tuple[Any, ...]:
        return (self.campus_id, self.student_ref)

    def merge(self, other: StudentRow) -> None:
        if (other.updated_at, other.college or "", other.active) > (
            self.updated_at,
            self.college or "",
            self.active,
        ):
            self.college, self.active, self.updated_at = (
                other.college,
                other.active,
                other.updated_at,
            )


@dataclass(slots=True)
class NotificationRow(Row):
    """One notification (one recipient, one channel): delivered, or failed for good."""

    notification_id: str
    campus_id: str
    student_ref: str
    channel: str
    recipient_kind: str
    source_event_type: str
    alert_id: str | None
    outcome: str  # delivered | failed
    created_at: datetime
    finished_at: datetime
    reason: str | None = None

    def key(self) -> tuple[Any, ...]:
        return (self.notification_id,)

    def merge(self, other: NotificationRow) -> None:
        # Delivered beats failed for one notification (a late retry got through); between
        # two of a kind the earlier stands.
        if (other.outcome == "delivered", self.finished_at) > (
            self.outcome == "delivered",
            other.finished_at,
        ):
            self.outcome, self.finished_at, self.reason = (
                other.outcome,
                other.finished_at,
                other.reason,
            )
        self.alert_id = _first(self.alert_id, other.alert_id)


#: Each row type and the columns that name one thing of it.
ROW_KEYS: dict[type[Row], tuple[str, ...]] = {
    AssessmentRow: ("assessment_id",),
    AlertRow: ("alert_id",),
    EscalationRow: ("alert_id", "level"),
    CaseRow: ("case_id",),
    ReferralRow: ("referral_id",),
    FollowUpRow: ("follow_up_id",),
    StudentRow: ("campus_id", "student_ref"),
    NotificationRow: ("notification_id",),
}


def key_of(row: Row) -> tuple[Any, ...]:
    return row.key()


class Projection:
    """Rows folded in memory, by type and key (what a rebuild and each live batch do)."""

    def __init__(self) -> None:
        self.rows: dict[type[Row], dict[tuple[Any, ...], Row]] = {t: {} for t in ROW_KEYS}

    def fold(self, row: Row) -> None:
        table = self.rows[type(row)]
        key = row.key()
        known = table.get(key)
        if known is None:
            table[key] = row
        else:
            known.merge(row)

    def fold_all(self, rows: list[Row]) -> None:
        for row in rows:
            self.fold(row)

    def __len__(self) -> int:
        return sum(len(table) for table in self.rows.values())


def severity_rank(severity: str) -> int:
    return SEVERITY_ORDER.index(severity)
