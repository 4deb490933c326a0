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

FAMILY_TOKEN = "family:"  # noqa: S105 (a rule token prefix, not a secret)
CHANNEL_TOKEN = "channel:"  # noqa: S105 (a rule token prefix, not a secret)


@dataclass(frozen=True, slots=True)
class Text:
    """A sentence a counselor can read, in Chinese (default) and English."""

    zh: str
    en: str


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """A follow-up task a rule attaches to the alert: what (a stable id), who, how soon."""

    task: str
    role: str
    within: timedelta


@dataclass(frozen=True, slots=True)
class RuleEffects:
    """What a rule asks besides a level: its band, a shorter deadline, a follow-up task.

    Rules sharing a `band` are the levels of one measure (PHQ-9 total 5/10/15/20): of those
    that fire only the last in file order is kept, so the reasons name the band that decided
    the grade and not every lower one it passed.
    """

    band: str | None = None
    ack_within: timedelta | None = None
    task: TaskSpec | None = None


@dataclass(frozen=True, slots=True)
class SignalRule:
    """At least `severity` when every token of `all_of` and, if given, one of `any_of` is present.

    Tokens are signal ids, `family:<name>` (any signal of that family; the family that
    includes suicide items is also present when a screening's suicide item fired) or
    `channel:<id>` (a report the reporter learned of that way, e.g. `channel:self_referral`:
    the student asked for help). Signals count from reports received within the campus
    window, or, with `observed_within`, from reports observed that recently (behaviour is held
    for three months, as the C-SSRS holds it).
    """

    id: str
    all_of: tuple[str, ...]
    severity: Level
    reason: Text
    any_of: tuple[str, ...] = ()
    observed_within: timedelta | None = None
    effects: RuleEffects = RuleEffects()


@dataclass(frozen=True, slots=True)
class Condition:
    """`measure` of a screening is at least `at_least`.

    Measures: `total`, `item:N`, `unanswered:N` (1 when item N was left blank or unreadable,
    else 0), `items_at_least:V` (how many items scored V or more), `factor_mean:NAME`,
    `max_factor_mean`, `counseling_requested` (0/1) and `behavior_recency` (never 0,
    lifetime 1, past_3_months 2).
    """

    measure: str
    at_least: float


@dataclass(frozen=True, slots=True)
class ScreeningRule:
    """At least `severity` when every condition holds for a screening of `instrument`.

    A rule naming a suicide item holds for that item's look-back window: any sheet
    administered within it counts, not only the latest.
    """

    id: str
    instrument: str
    all_of: tuple[Condition, ...]
    severity: Level
    reason: Text
    source: str
    effects: RuleEffects = RuleEffects()


@dataclass(frozen=True, slots=True)
class SuicideItems:
    """Items asking about suicidal thoughts or behaviour, and how long an answer holds."""

    items: tuple[int, ...]
    look_back: timedelta


@dataclass(frozen=True, slots=True)
class InstrumentScoring:
    """How an instrument is scored: items left out of the total, factor item lists, the manual,
    and its suicide items with their look-back windows."""

    instrument: str
    source: str
    excluded_from_total: tuple[int, ...] = ()
    factors: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    suicide_items: tuple[SuicideItems, ...] = ()

    def look_back(self, item: int) -> timedelta | None:
        """How long an answer to `item` holds, or None when it is not a suicide item."""
        windows = [s.look_back for s in self.suicide_items if item in s.items]
        return max(windows) if windows else None


@dataclass(frozen=True, slots=True)
class SignalWeights:
    """Signals outside the red flags add up: any weight gives mild, `moderate_at` gives moderate."""

    weights: Mapping[str, int]
    moderate_at: int
    mild_reason: Text
    moderate_reason: Text


@dataclass(frozen=True, slots=True)
class SignalFamily:
    """Signals that describe one kind of concern, for corroboration and the history rule."""

    name: str
    signals: tuple[str, ...]
    label: Text
    includes_suicide_items: bool = False


@dataclass(frozen=True, slots=True)
class Corroboration:
    """Independent reporters of one concern (a signal or a family) within the window raise the
    grade, never past `ceiling`."""

    min_reporters: int
    raise_by: int
    ceiling: Level
    reason: Text


@dataclass(frozen=True, slots=True)
class History:
    """A recently closed case raises a new grade.

    A case of at least `min_closed_severity` closed within `within` raises any grade of
    `from_level` or more by `raise_by`, never past `ceiling`. A case of at least
    `suicidality_min_closed` closed within `suicidality_within`, with any signal of the family
    `suicidality_family` now, gives `suicidality_level`.
    """

    within: timedelta
    min_closed_severity: Level
    from_level: Level
    raise_by: int
    ceiling: Level
    reason: Text
    suicidality_within: timedelta
    suicidality_min_closed: Level
    suicidality_family: str
    suicidality_level: Level
    suicidality_reason: Text


@dataclass(frozen=True, slots=True)
class Rung:
    """Who owns an alert of one severity, who is informed, and how long they have to acknowledge.

    Past the top of the escalation path an alert with `realert_every` re-alerts its owner and
    the campus's on-duty contact at that interval until acknowledged.
    """

    owner: str
    inform: tuple[str, ...]
    inform_external: tuple[str, ...]
    ack_within: timedelta
    escalate_within: timedelta
    realert_every: timedelta | None = None
    on_duty_at_raise: bool = False


@dataclass(frozen=True, slots=True)
class Ladder:
    """The first rung per severity and the path an unacknowledged alert climbs."""

    rungs: Mapping[Level, Rung]
    escalation_path: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Realerts:
    """When an owner already holds a student's alert, which input is still news.

    An acknowledged alert whose case is open covers a grade no graver than itself that rests
    on what the alert already covered; such an input is graded and published without a new
    alert, with `reason`. A report naming one of `red_flag_signals`, or a screening sheet on
    which one of `red_flag_rules` fires by itself, is new information whatever is held: it
    always raises an alert.
    """

    red_flag_signals: frozenset[str]
    red_flag_rules: frozenset[str]
    reason: Text


@dataclass(frozen=True, slots=True)
class CampusSettings:
    """The parts a campus may tune without code: window, corroboration, history, ladder."""

    window: timedelta
    corroboration: Corroboration
    history: History
    ladder: Ladder


def _look_back(rule: ScreeningRule, scoring: InstrumentScoring) -> timedelta | None:
    """How long a sheet holds for `rule`: the longest look-back of the suicide items it reads."""
    windows = [
        window
        for c in rule.all_of
        if c.measure.startswith("item:")
        and (window := scoring.look_back(int(c.measure.partition(":")[2]))) is not None
    ]
    return max(windows) if windows else None


IndexedRule = tuple[int, ScreeningRule, InstrumentScoring, timedelta | None]


@dataclass(frozen=True, slots=True)
class GradingPolicy:
    """One version of the whole policy."""

    version: str
    signal_rules: tuple[SignalRule, ...]
    signal_weights: SignalWeights
    instruments: Mapping[str, InstrumentScoring]
    screening_rules: tuple[ScreeningRule, ...]
    defaults: CampusSettings
    realerts: Realerts
    campuses: Mapping[str, CampusSettings] = field(default_factory=dict)
    families: Mapping[str, SignalFamily] = field(default_factory=dict)
    # Looked up for every input graded: built once.
    _family_index: Mapping[str, tuple[str, ...]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    _screening_index: Mapping[str, tuple[IndexedRule, ...]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        families: dict[str, tuple[str, ...]] = {}
        for family in self.families.values():
            for signal in family.signals:
                families[signal] = (*families.get(signal, ()), family.name)
        object.__setattr__(self, "_family_index", families)
        rules: dict[str, list[IndexedRule]] = {}
        for position, rule in enumerate(self.screening_rules):
            scoring = self.instruments.get(rule.instrument)
            if scoring is not None:
                held = _look_back(rule, scoring)
                rules.setdefault(rule.instrument, []).append((position, rule, scoring, held))
        object.__setattr__(self, "_screening_index", {k: tuple(v) for k, v in rules.items()})

    def screening_rules_of(self, instrument: str) -> tuple[IndexedRule, ...]:
        """An instrument's rules: (position in the file, rule, scoring, suicide-item look-back)."""
        return self._screening_index.get(instrument, ())

    def for_campus(self, campus_id: str) -> CampusSettings:
        """The campus's own settings, or the defaults when it has none."""
        return self.campuses.get(campus_id, self.defaults)

    def families_of(self, signal: str) -> tuple[str, ...]:
        """The families a signal belongs to."""
        return self._family_index.get(signal, ())

    @property
    def retention(self) -> timedelta:
        """How long evidence must be kept: every campus window and every look-back window."""
        spans = [self.defaults.window, *(c.window for c in self.campuses.values())]
        spans += [r.observed_within for r in self.signal_rules if r.observed_within]
        spans += [s.look_back for i in self.instruments.values() for s in i.suicide_items]
        return max(spans)
