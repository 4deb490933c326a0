"""Read the grading policy YAML, validate it with pydantic and build the domain's dataclasses.

A policy that names an unknown signal, role, instrument or measure, or whose ladder cannot be
climbed, refuses to load: triage does not start on a policy it cannot apply faithfully.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from shouwang_contracts.instruments import INSTRUMENTS, Instrument
from shouwang_contracts.vocabulary import Role, Signal

from ..domain import policy as p
from ..domain.levels import Level
from ..domain.measures import UnknownMeasure, check_measure_name

SeverityId = Literal["none", "mild", "moderate", "severe", "critical"]
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_duration(text: str) -> timedelta:
    """`"72h"`, `"15m"`, `"30d"`, `"1h30m"`, `"5s"` as a timedelta."""
    match = _DURATION.match(text.strip())
    if not match or not any(match.groups()):
        raise ValueError(f"not a duration like 72h, 15m, 30d or 5s: {text!r}")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TextModel(_Model):
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def build(self) -> p.Text:
        return p.Text(self.zh, self.en)


class SignalRuleModel(_Model):
    id: str
    all_of: list[Signal] = Field(min_length=1)
    severity: SeverityId
    reason: TextModel
    within_hours: float | None = Field(default=None, gt=0)


class ConditionModel(_Model):
    measure: str
    at_least: float


class ScreeningRuleModel(_Model):
    id: str
    instrument: Instrument
    all_of: list[ConditionModel] = Field(min_length=1)
    severity: SeverityId
    source: str = Field(min_length=1)
    reason: TextModel


class InstrumentModel(_Model):
    source: str = Field(min_length=1)
    excluded_from_total: list[int] = Field(default_factory=list)
    factors: dict[str, list[int]] = Field(default_factory=dict)
    unfactored: list[int] = Field(default_factory=list)


class SignalWeightsModel(_Model):
    moderate_at: int = Field(ge=1)
    weights: dict[Signal, int]
    mild_reason: TextModel
    moderate_reason: TextModel


class CorroborationModel(_Model):
    min_reporters: int = Field(ge=2)
    raise_by: int = Field(ge=0, le=1)
    ceiling: Literal["mild", "moderate", "severe"]  # accumulation alone never reaches critical
    reason: TextModel


class HistoryModel(_Model):
    within: str
    min_closed_severity: SeverityId
    from_level: SeverityId
    to_level: SeverityId
    reason: TextModel


class RungModel(_Model):
    owner: Role
    inform: list[Role] = Field(default_factory=list)
    inform_external: list[str] = Field(default_factory=list)
    ack_within: str
    escalate_within: str


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


class CampusModel(_Model):
    window: str
    corroboration: CorroborationModel
    history: HistoryModel
    ladder: LadderModel


class PolicyModel(_Model):
    version: str = Field(min_length=1)
    signal_rules: list[SignalRuleModel]
    signal_weights: SignalWeightsModel
    instruments: dict[Instrument, InstrumentModel]
    screening_rules: list[ScreeningRuleModel]
    defaults: CampusModel
    campuses: dict[str, CampusModel] = Field(default_factory=dict)

    @field_validator("signal_rules", "screening_rules")
    @classmethod
    def _unique_ids(cls, rules: list[Any]) -> list[Any]:
        ids = [r.id for r in rules]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate rule ids: {duplicates}")
        return rules

    @model_validator(mode="after")
    def _instruments_consistent(self) -> PolicyModel:
        for instrument, model in self.instruments.items():
            count = INSTRUMENTS[instrument].item_count
            listed = [*model.excluded_from_total, *model.unfactored]
            listed += [i for items in model.factors.values() for i in items]
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
            scoring = _scoring(rule.instrument, self.instruments[rule.instrument])
            for condition in rule.all_of:
                try:
                    check_measure_name(
                        condition.measure, scoring, INSTRUMENTS[rule.instrument].item_count
                    )
                except UnknownMeasure as exc:
                    raise ValueError(f"{rule.id}: {exc}") from exc
        return self


def _scoring(instrument: Instrument, model: InstrumentModel) -> p.InstrumentScoring:
    return p.InstrumentScoring(
        instrument=instrument.value,
        source=model.source,
        excluded_from_total=tuple(model.excluded_from_total),
        factors={name: tuple(items) for name, items in model.factors.items()},
    )


def _campus(model: CampusModel) -> p.CampusSettings:
    c, h, ladder = model.corroboration, model.history, model.ladder
    return p.CampusSettings(
        window=parse_duration(model.window),
        corroboration=p.Corroboration(
            c.min_reporters, c.raise_by, Level.from_id(c.ceiling), c.reason.build()
        ),
        history=p.History(
            within=parse_duration(h.within),
            min_closed_severity=Level.from_id(h.min_closed_severity),
            from_level=Level.from_id(h.from_level),
            to_level=Level.from_id(h.to_level),
            reason=h.reason.build(),
        ),
        ladder=p.Ladder(
            rungs={
                Level.from_id(severity): p.Rung(
                    owner=rung.owner.value,
                    inform=tuple(r.value for r in rung.inform),
                    inform_external=tuple(rung.inform_external),
                    ack_within=parse_duration(rung.ack_within),
                    escalate_within=parse_duration(rung.escalate_within),
                )
                for severity, rung in ladder.rungs.items()
            },
            escalation_path=tuple(r.value for r in ladder.escalation_path),
        ),
    )


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`override` laid over `base`: nested mappings merge, anything else replaces."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def build_policy(
    raw: Mapping[str, Any], campus_overrides: Mapping[str, Any] | None = None
) -> p.GradingPolicy:
    """Validate a parsed policy document (plus optional campus overrides) into a policy."""
    document = dict(raw)
    defaults = document.get("defaults") or {}
    overrides = {**(document.get("campuses") or {}), **(campus_overrides or {})}
    document["campuses"] = {
        campus: deep_merge(defaults, override or {}) for campus, override in overrides.items()
    }
    model = PolicyModel.model_validate(document)
    return p.GradingPolicy(
        version=model.version,
        signal_rules=tuple(
            p.SignalRule(
                id=r.id,
                all_of=tuple(s.value for s in r.all_of),
                severity=Level.from_id(r.severity),
                reason=r.reason.build(),
                within_hours=r.within_hours,
            )
            for r in model.signal_rules
        ),
        signal_weights=p.SignalWeights(
            weights={s.value: w for s, w in model.signal_weights.weights.items()},
            moderate_at=model.signal_weights.moderate_at,
            mild_reason=model.signal_weights.mild_reason.build(),
            moderate_reason=model.signal_weights.moderate_reason.build(),
        ),
        instruments={i.value: _scoring(i, m) for i, m in model.instruments.items()},
        screening_rules=tuple(
            p.ScreeningRule(
                id=r.id,
                instrument=r.instrument.value,
                all_of=tuple(p.Condition(c.measure, c.at_least) for c in r.all_of),
                severity=Level.from_id(r.severity),
                reason=r.reason.build(),
                source=r.source,
            )
            for r in model.screening_rules
        ),
        defaults=_campus(model.defaults),
        campuses={campus: _campus(m) for campus, m in model.campuses.items()},
    )


def bundled_policy_text() -> str:
    """The policy file shipped inside the package."""
    return (
        resources.files("shouwang_triage.policy")
        .joinpath("grading-policy.yaml")
        .read_text(encoding="utf-8")
    )


def load_policy(path: Path | None = None, campus_file: Path | None = None) -> p.GradingPolicy:
    """Load the policy from `path` (default: the bundled one) and a campus overrides file."""
    text = path.read_text(encoding="utf-8") if path else bundled_policy_text()
    overrides = yaml.safe_load(campus_file.read_text(encoding="utf-8")) if campus_file else None
    return build_policy(yaml.safe_load(text), overrides)
