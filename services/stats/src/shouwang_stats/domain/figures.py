"""What the figures count, in the seed's terms.

- An **event found** (发现的心理危机事件) is a case: triage graded a warning, an alert was
  raised and casework opened a case for the student. Its grade is the highest severity the
  case reached; the seed's table counts severe and critical together as 重度. It belongs to
  the month the case opened, and to the source and instrument of the assessment that opened it.
- A **person-time relieved** (缓解人次) is a completed follow-up (回访) that found the student
  relieved (缓解): each such contact counts once, so one student helped twice in a year counts
  twice, as the seed's “64 人次” from 50 events does.
- A **cycle** runs through milestones; each leg is the time between two consecutive ones,
  measured for the cases that reached both, and each milestone is also measured from the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from itertools import pairwise

from shouwang_contracts.vocabulary import ReportChannel

Labels = tuple[str, str]  # (zh-CN, English)

SEVERITY_ORDER = ("none", "mild", "moderate", "severe", "critical")


class Bucket(StrEnum):
    """The seed table's columns: severe and critical count together as 重度."""

    SEVERE = "severe"
    MODERATE = "moderate"
    MILD = "mild"


BUCKETS: tuple[Bucket, ...] = (Bucket.SEVERE, Bucket.MODERATE, Bucket.MILD)
BUCKET_LABELS: dict[Bucket, Labels] = {
    Bucket.SEVERE: ("重度", "Severe"),
    Bucket.MODERATE: ("中度", "Moderate"),
    Bucket.MILD: ("轻度", "Mild"),
}
_BUCKET_OF = {
    "critical": Bucket.SEVERE,
    "severe": Bucket.SEVERE,
    "moderate": Bucket.MODERATE,
    "mild": Bucket.MILD,
}


def bucket_of(severity: str) -> Bucket | None:
    """The seed column a severity counts in; None for `none` (no event found)."""
    return _BUCKET_OF.get(severity)


def graver(a: str | None, b: str | None) -> str | None:
    """The graver of two severities (None counts as nothing known)."""
    if a is None:
        return b
    if b is None:
        return a
    return a if SEVERITY_ORDER.index(a) >= SEVERITY_ORDER.index(b) else b


# Where a warning came from, beside the reporter roles of the six tiers.
SOURCE_SCREENING = "screening"  # an individual screening entered by staff
SOURCE_CENSUS = "census"  # a row of a census upload (心理普查)
UNKNOWN = "unknown"  # not carried by the events (older events, cases opened by hand)

#: Reports learned of other than by the reporter's own eyes count under how they were learned
#: of (a self-referral, a family's call, a counseling session), not under the reporter's tier.
CHANNEL_SOURCES: tuple[str, ...] = tuple(
    c.value for c in ReportChannel if c is not ReportChannel.OBSERVED
)
SOURCE_LABELS: dict[str, Labels] = {
    **{
        c.value: (c.label("zh-CN"), c.label("en"))
        for c in ReportChannel
        if c.value in CHANNEL_SOURCES
    },
    SOURCE_SCREENING: ("个别测评", "Individual screening"),
    SOURCE_CENSUS: ("心理普查", "Census"),
    UNKNOWN: ("未知", "Unknown"),
}
NO_INSTRUMENT = "none"
INSTRUMENT_LABELS: dict[str, Labels] = {
    NO_INSTRUMENT: ("无（层级上报）", "None (tier report)"),
    UNKNOWN: ("未知", "Unknown"),
}
UNKNOWN_COLLEGE_LABELS: Labels = ("未登记学院", "College not on the roster")


class Milestone(StrEnum):
    """Where a case stands on its way through the loop, in the order they are reached."""

    REPORTED = "reported"  # intake accepted the report or screening
    GRADED = "graded"  # triage graded it (预警)
    ACKNOWLEDGED = "acknowledged"  # someone qualified acknowledged the alert
    INTERVENED = "intervened"  # the case first entered intervention (干预)
    REFERRAL_ANSWERED = "referral_answered"  # the referral destination accepted or declined
    CLOSED = "closed"  # the case closed (结案), the loop is closed
    FOLLOWED_UP = "followed_up"  # the first follow-up (回访) completed after closing


MILESTONES: tuple[Milestone, ...] = tuple(Milestone)
MILESTONE_LABELS: dict[Milestone, Labels] = {
    Milestone.REPORTED: ("上报", "Reported"),
    Milestone.GRADED: ("研判预警", "Graded"),
    Milestone.ACKNOWLEDGED: ("确认接手", "Alert acknowledged"),
    Milestone.INTERVENED: ("首次干预", "First intervention"),
    Milestone.REFERRAL_ANSWERED: ("转介回复", "Referral answered"),
    Milestone.CLOSED: ("结案", "Closed"),
    Milestone.FOLLOWED_UP: ("结案后回访", "Follow-up done"),
}


@dataclass(frozen=True, slots=True)
class Leg:
    """From one milestone to the next."""

    start: Milestone
    end: Milestone

    @property
    def id(self) -> str:
        return f"{self.start.value}__{self.end.value}"

    def labels(self) -> Labels:
        zh_start, en_start = MILESTONE_LABELS[self.start]
        zh_end, en_end = MILESTONE_LABELS[self.end]
        return f"{zh_start}→{zh_end}", f"{en_start} → {en_end}"


LEGS: tuple[Leg, ...] = tuple(Leg(start, end) for start, end in pairwise(MILESTONES))


@dataclass(frozen=True, slots=True)
class Timeline:
    """When one case reached each milestone (None: not reached, or not known)."""

    student_ref: str
    reached: dict[Milestone, datetime]

    def leg_seconds(self, leg: Leg) -> float | None:
        """The leg's duration, if the case reached both ends in order."""
        start, end = self.reached.get(leg.start), self.reached.get(leg.end)
        if start is None or end is None or end < start:
            return None
        return (end - start).total_seconds()

    def since_report(self, milestone: Milestone) -> float | None:
        """Time from the report to `milestone` (the cumulative cycle)."""
        start, end = self.reached.get(Milestone.REPORTED), self.reached.get(milestone)
        if milestone is Milestone.REPORTED or start is None or end is None or end < start:
            return None
        return (end - start).total_seconds()
