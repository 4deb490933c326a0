"""What triage knows about one student when it grades: reports, screenings, closed cases."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .levels import Level

# Ordered so that a more recent suicidal behaviour ranks higher (the C-SSRS screener's Q6).
BEHAVIOR_RECENCY_RANK = {"never": 0, "lifetime": 1, "past_3_months": 2}
# How a reporter learned of what they report (`vocabulary.ReportChannel`); a report from
# before the field was observed by its reporter.
OBSERVED = "observed"


@dataclass(frozen=True, slots=True)
class ReportEvidence:
    """One tier report: who reported which signals, when observed and when received, and how
    the reporter learned of it (`channel`: `observed`, `self_referral`, `family_call`,
    `counseling_session`)."""

    report_id: str
    reporter_ref: str
    reporter_role: str
    signals: frozenset[str]
    observed_at: datetime
    received_at: datetime
    channel: str = OBSERVED


@dataclass(frozen=True, slots=True)
class ScreeningEvidence:
    """One screening result: the instrument's answers and its side fields.

    A census row may leave items blank or cells unreadable: `unanswered` holds those item
    numbers (their value in `items` is the scale's minimum, never an answer) and `unreadable`
    the side fields intake read the riskier way. Such a sheet is graded on what it does say.
    """

    screening_id: str
    instrument: str
    items: tuple[int, ...]
    administered_at: datetime
    received_at: datetime
    behavior_recency: str | None = None
    counseling_requested: bool | None = None
    unanswered: frozenset[int] = frozenset()
    unreadable: tuple[str, ...] = ()

    @property
    def incomplete(self) -> bool:
        """Items unanswered or side fields unreadable."""
        return bool(self.unanswered or self.unreadable)


@dataclass(frozen=True, slots=True)
class ClosedCase:
    """A case casework closed: how severe it got and when it closed."""

    case_id: str
    severity: Level
    closed_at: datetime


@dataclass(frozen=True, slots=True)
class Situation:
    """Everything graded together: the student's recent inputs and case history, at `now`."""

    now: datetime
    reports: tuple[ReportEvidence, ...] = ()
    screenings: tuple[ScreeningEvidence, ...] = ()
    closed_cases: tuple[ClosedCase, ...] = field(default=())
