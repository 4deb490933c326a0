"""The grading policy as data: rules, instrument scoring, corroboration, history, the ladder.

The shapes here are plain dataclasses; `adapters.policy_file` reads and validates the YAML
into them. Every rule only ever says "at least this level when these conditions hold", with
lower-bound conditions only, which is what makes grading monotone: more evidence or higher
scores can never lower a grade.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from .levels import Level


@dataclass(frozen=True, slots=True)
class Text:
    """A sentence a counselor can read, in Chinese (default) and English."""

    zh: str
    en: str


@dataclass(frozen=True, slots=True)
class SignalRule:
    """At least `severity` when every signal in `all_of` was reported in the window.

    `within_hours` narrows the rule to signals observed that recently (an attempt "in
    progress" is a matter of hours, not weeks).
    """

    id: str
    all_of: tuple[str, ...]
    severity: Level
    reason: Text
    within_hours: float | None = None


@dataclass(frozen=True, slots=True)
class Condition:
    """`measure` of a screening is at least `at_least`.

    Measures: `total`, `item:N`, `items_at_least:V` (how many items scored V or more),
    `factor_mean:NAME`, `max_factor_mean`, `counseling_requested` (0/1) and
    `behavior_recency` (never 0, lifetime 1, past_3_months 2).
    """

    measure: str
    at_least: float


@dataclass(frozen=True, slots=True)
class ScreeningRule:
    """At least `severity` when every condition holds for the latest screening of `instrument`."""

    id: str
    instrument: str
    all_of: tuple[Condition, ...]
    severity: Level
    reason: Text
    source: str


@dataclass(frozen=True, slots=True)
class InstrumentScoring:
    """How an instrument is scored: items left out of the total, factor item lists, the manual."""

    instrument: str
    source: str
    excluded_from_total: tuple[int, ...] = ()
    factors: Mapping[str, tuple[int, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SignalWeights:
    """Signals outside the red flags add up: any weight gives mild, `moderate_at` gives moderate."""

    weights: Mapping[str, int]
    moderate_at: int
    mild_reason: Text
    moderate_reason: Text


@dataclass(frozen=True, slots=True)
class Corroboration:
    """Independent reporters within the window raise the grade, never past `ceiling`."""

    min_reporters: int
    raise_by: int
    ceiling: Level
    reason: Text


@dataclass(frozen=True, slots=True)
class History:
    """A case of at least `min_closed_severity` closed within `within` lifts `from_level` to `to_level`."""

    within: timedelta
    min_closed_severity: Level
    from_level: Level
    to_level: Level
    reason: Text


@dataclass(frozen=True, slots=True)
class Rung:
    """Who owns an alert of one severity, who is informed, and how long they have to acknowledge."""

    owner: str
    inform: tuple[str, ...]
    inform_external: tuple[str, ...]
    ack_within: timedelta
    escalate_within: timedelta


@dataclass(frozen=True, slots=True)
class Ladder:
    """The first rung per severity and the path an unacknowledged alert climbs."""

    rungs: Mapping[Level, Rung]
    escalation_path: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CampusSettings:
    """The parts a campus may tune without code: window, corroboration, history, ladder."""

    window: timedelta
    corroboration: Corroboration
    history: History
    ladder: Ladder


@dataclass(frozen=True, slots=True)
class GradingPolicy:
    """One version of the whole policy."""

    version: str
    signal_rules: tuple[SignalRule, ...]
    signal_weights: SignalWeights
    instruments: Mapping[str, InstrumentScoring]
    screening_rules: tuple[ScreeningRule, ...]
    defaults: CampusSettings
    campuses: Mapping[str, CampusSettings] = field(default_factory=dict)

    def for_campus(self, campus_id: str) -> CampusSettings:
        """The campus's own settings, or the defaults when it has none."""
        return self.campuses.get(campus_id, self.defaults)

    @property
    def longest_window(self) -> timedelta:
        """How long evidence must be kept so every campus's window can be graded."""
        return max([self.defaults.window, *(c.window for c in self.campuses.values())])
