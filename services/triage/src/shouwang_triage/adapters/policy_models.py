"""The grading policy file's shape, validated with pydantic.

What a rule can name is checked here (known signals, families, roles, instruments, measures,
reason placeholders, ordered bands); what keeps students safe across campuses (staff own
alerts, graver grades never wait longer, severe and critical alerts never go quiet) is
checked on the built policy in `policy_checks`.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator
from shouwang_contracts.instruments import INSTRUMENTS, Instrument
from shouwang_contracts.vocabulary import ExternalParty, FollowUp, ReportChannel, Role, Signal

from ..domain import policy as p
from ..domain.measures import UnknownMeasure, check_measure_name, placeholders

SeverityId = Literal["none", "mild", "moderate", "severe", "critical"]
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_SEVERITY_RANK = {"none": 0, "mild": 1, "moderate": 2, "severe": 3, "critical": 4}


def parse_duration(text: str) -> timedelta:
    """`"72h"`, `"15m"`, `"30d"`, `"1h30m"`, `"5s"` as a timedelta."""
    match = _DURATION.match(text.strip())
    if not match or not any(match.groups()):
        raise ValueError(f"not a duration like 72h, 15m, 30d or 5s: {text!r}")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def _duration(text: str) -> str:
    parse_duration(text)
    return text


Duration = Annotated[str, AfterValidator(_duration)]


def _token(text: str) -> str:
    if text.startswith(p.FAMILY_TOKEN) and len(text) > len(p.FAMILY_TOKEN):
        return text
    if text.startswith(p.CHANNEL_TOKEN):
        ReportChannel(text.removeprefix(p.CHANNEL_TOKEN))  # raises naming the unknown channel
        return text
    Signal(text)  # raises ValueError naming the unknown signal
    return text


SignalToken = Annotated[str, AfterValidator(_token)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TextModel(_Model):
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def build(self) -> p.Text:
        return p.Text(self.zh, self.en)

    def names(self) -> set[str]:
        return {*placeholders(self.zh), *placeholders(self.en)}


def _no_placeholders_but(text: TextModel, allowed: set[str], where: str) -> None:
    unknown = text.names() - allowed
    if unknown:
        raise ValueError(
            f"{where}: unknown placeholders {sorted(unknown)}; allowed {sorted(allowed)}"
        )


class _RuleModel(_Model):
    id: str
    severity: SeverityId
    reason: TextModel
    band: str | None = None
    ack_within: Duration | None = None
    task: FollowUp | None = None


class SignalRuleModel(_RuleModel):
    source: str = Field(min_length=1)
    all_of: list[SignalToken] = Field(min_length=1)
    any_of: list[SignalToken] = Field(default_factory=list)
    observed_within: Duration | None = None

    @model_validator(mode="after")
    def _plain_reason(self) -> SignalRuleModel:
        _no_placeholders_but(self.reason, set(), self.id)
        return self


class ConditionModel(_Model):
    measure: str
    at_least: float


class ScreeningRuleModel(_RuleModel):
    instrument: Instrument
    all_of: list[ConditionModel] = Field(min_length=1)
    source: str = Field(min_length=1)

    @model_validator(mode="after")
    def _reason_names_its_measures(self) -> ScreeningRuleModel:
        # A reason may quote only what its own conditions read: those are always known on a
        # sheet the rule fired on, blanks or not.
        _no_placeholders_but(self.reason, {c.measure for c in self.all_of}, self.id)
        return self


class SuicideItemsModel(_Model):
    items: list[int] = Field(min_length=1)
    look_back: Duration
    source: str = Field(min_length=1)


class InstrumentModel(_Model):
    source: str = Field(min_length=1)
    excluded_from_total: list[int] = Field(default_factory=list)
    factors: dict[str, list[int]] = Field(default_factory=dict)
    unfactored: list[int] = Field(default_factory=list)
    suicide_items: list[SuicideItemsModel] = Field(default_factory=list)


class SignalWeightsModel(_Model):
    source: str = Field(min_length=1)
    moderate_at: int = Field(ge=1)
    weights: dict[Signal, int]
    mild_reason: TextModel
    moderate_reason: TextModel

    @model_validator(mode="after")
    def _score_only(self) -> SignalWeightsModel:
        _no_placeholders_but(self.mild_reason, {"score"}, "signal_weights.mild_reason")
        _no_placeholders_but(self.moderate_reason, {"score"}, "signal_weights.moderate_reason")
        return self


class FamilyModel(_Model):
    signals: list[Signal] = Field(min_length=1)
    label: TextModel
    includes_suicide_items: bool = False


class TaskModel(_Model):
    role: Role
    within: Duration
    source: str = Field(min_length=1)


class CorroborationModel(_Model):
    min_reporters: int = Field(ge=2)
    raise_by: int = Field(ge=0, le=1)
    ceiling: Literal["mild", "moderate", "severe"]  # accumulation alone never reaches critical
    reason: TextModel

    @model_validator(mode="after")
    def _placeholders(self) -> CorroborationModel:
        _no_placeholders_but(self.reason, {"reporters", "family"}, "corroboration.reason")
        return self


class SuicidalityHistoryModel(_Model):
    within: Duration
    min_closed_severity: SeverityId
    family: str
    level: SeverityId
    reason: TextModel


class HistoryModel(_Model):
    within: Duration
    min_closed_severity: SeverityId
    from_level: SeverityId
    raise_by: int = Field(ge=0, le=1)
    ceiling: SeverityId
    reason: TextModel
    suicidality: SuicidalityHistoryModel

    @model_validator(mode="after")
    def _placeholders(self) -> HistoryModel:
        _no_placeholders_but(self.reason, {"days"}, "history.reason")
        _no_placeholders_but(self.suicidality.reason, {"days"}, "history.suicidality.reason")
        return self


class RungModel(_Model):
    owner: Role
    inform: list[Role] = Field(default_factory=list)
    inform_external: list[ExternalParty] = Field(default_factory=list)
    ack_within: Duration
    escalate_within: Duration
    realert_every: Duration | None = None
    on_duty_at_raise: bool = False


class LadderModel(_Model):
    escalation_path: list[Role] = Field(min_length=1)
    rungs: dict[Literal["mild", "moderate", "severe", "critical"], RungModel]

    @model_validator(mode="after")
    def _climbable(self) -> LadderModel:
        missing = {"mild", "moderate", "severe", "critical"} - self.rungs.keys()
        if missing:
            raise ValueError(f"ladder needs a rung for every severity; missing {sorted(missing)}")
        for severity, rung in self.rungs.items():
            if rung.owner not in self.escalation_path:
                raise ValueError(f"{severity} owner {rung.owner} is not on the escalation path")
        return self


class RedFlagsModel(_Model):
    signals: list[Signal] = Field(min_length=1)
    screening_rules: list[str] = Field(default_factory=list)


class RealertsModel(_Model):
    source: str = Field(min_length=1)
    red_flags: RedFlagsModel
    reason: TextModel

    @model_validator(mode="after")
    def _placeholders(self) -> RealertsModel:
        _no_placeholders_but(self.reason, {"alert", "acknowledged"}, "realerts.reason")
        return self


class CampusModel(_Model):
    window: Duration
    corroboration: CorroborationModel
    history: HistoryModel
    ladder: LadderModel


class PolicyModel(_Model):
    version: str = Field(min_length=1)
    families: dict[str, FamilyModel]
    tasks: dict[FollowUp, TaskModel] = Field(default_factory=dict)
    signal_rules: list[SignalRuleModel]
    signal_weights: SignalWeightsModel
    instruments: dict[Instrument, InstrumentModel]
    screening_rules: list[ScreeningRuleModel]
    defaults: CampusModel
    realerts: RealertsModel
    campuses: dict[str, CampusModel] = Field(default_factory=dict)

    @field_validator("signal_rules", "screening_rules")
    @classmethod
    def _unique_ids_and_ordered_bands(cls, rules: list[Any]) -> list[Any]:
        ids = [r.id for r in rules]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate rule ids: {duplicates}")
        # Bands keep the last rule that fired, so a later rule may never ask for less.
        highest: dict[str, tuple[str, str]] = {}
        for rule in rules:
            if rule.band is None:
                continue
            before = highest.get(rule.band)
            if before and _SEVERITY_RANK[rule.severity] < _SEVERITY_RANK[before[1]]:
                raise ValueError(
                    f"band {rule.band}: {rule.id} ({rule.severity}) follows {before[0]} "
                    f"({before[1]}); a band's rules must not ask for less further down"
                )
            highest[rule.band] = (rule.id, rule.severity)
        return rules

    @model_validator(mode="after")
    def _names_resolve(self) -> PolicyModel:
        covered = {s for f in self.families.values() for s in f.signals}
        uncovered = sorted(s.value for s in Signal if s not in covered)
        if uncovered:
            raise ValueError(f"families: every signal needs a family (corroboration); {uncovered}")
        for rule in self.signal_rules:
            for token in (*rule.all_of, *rule.any_of):
                family = token.removeprefix(p.FAMILY_TOKEN)
                if token.startswith(p.FAMILY_TOKEN) and family not in self.families:
                    raise ValueError(f"{rule.id}: unknown family {family!r}")
        named = [(r.id, r.task) for r in self.signal_rules]
        named += [(r.id, r.task) for r in self.screening_rules]
        for rule_id, task in named:
            if task is not None and task not in self.tasks:
                raise ValueError(f"{rule_id}: task {task.value} is not in tasks")
        screening_ids = {r.id for r in self.screening_rules}
        unknown = sorted(set(self.realerts.red_flags.screening_rules) - screening_ids)
        if unknown:
            raise ValueError(f"realerts.red_flags.screening_rules: unknown rules {unknown}")
        for campus in (self.defaults, *self.campuses.values()):
            if campus.history.suicidality.family not in self.families:
                raise ValueError(
                    f"history.suicidality: unknown family {campus.history.suicidality.family!r}"
                )
        return self

    @model_validator(mode="after")
    def _instruments_consistent(self) -> PolicyModel:
        for instrument, model in self.instruments.items():
            count = INSTRUMENTS[instrument].item_count
            listed = [*model.excluded_from_total, *model.unfactored]
            listed += [i for items in model.factors.values() for i in items]
            listed += [i for group in model.suicide_items for i in group.items]
            if any(not 1 <= i <= count for i in listed):
                raise ValueError(f"{instrument}: item numbers must lie in 1..{count}")
            if model.factors:
                covered = [i for items in model.factors.values() for i in items]
                covered += model.unfactored
                if sorted(covered) != list(range(1, count + 1)):
                    raise ValueError(
                        f"{instrument}: factors and unfactored must cover each item once"
                    )
        for rule in self.screening_rules:
            if rule.instrument not in self.instruments:
                raise ValueError(f"{rule.id}: instrument {rule.instrument} has no scoring section")
            scoring = scoring_of(rule.instrument, self.instruments[rule.instrument])
            for condition in rule.all_of:
                try:
                    check_measure_name(
                        condition.measure, scoring, INSTRUMENTS[rule.instrument].item_count
                    )
                except UnknownMeasure as exc:
                    raise ValueError(f"{rule.id}: {exc}") from exc
        return self


def scoring_of(instrument: Instrument, model: InstrumentModel) -> p.InstrumentScoring:
    """The domain's view of one instrument's scoring section."""
    return p.InstrumentScoring(
        instrument=instrument.value,
        source=model.source,
        excluded_from_total=tuple(model.excluded_from_total),
        factors={name: tuple(items) for name, items in model.factors.items()},
        suicide_items=tuple(
            p.SuicideItems(tuple(group.items), parse_duration(group.look_back))
            for group in model.suicide_items
        ),
    )
