"""Read the grading policy YAML, validate it and build the domain's dataclasses.

A policy that names an unknown signal, role, instrument or measure, whose ladder cannot be
climbed, or that breaks a safety rule (`policy_checks`) refuses to load, with a message
naming the file and the rule: triage does not start on a policy it cannot apply faithfully.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from ..domain import policy as p
from ..domain.levels import Level
from .policy_checks import PolicyRefused, check_campus, check_policy
from .policy_models import (
    CampusModel,
    PolicyModel,
    ScreeningRuleModel,
    SignalRuleModel,
    TaskModel,
    parse_duration,
    scoring_of,
)

__all__ = ["PolicyRefused", "build_policy", "bundled_policy_text", "load_policy", "parse_duration"]

BUNDLED = "grading-policy.yaml"
M = TypeVar("M", bound=BaseModel)


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`override` laid over `base`: nested mappings merge, anything else replaces."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _validated(model: type[M], document: Any, source: str, where: str) -> M:
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in (where, *error['loc']) if part)}: {error['msg']}"
            for error in exc.errors(include_url=False)
        )
        raise PolicyRefused(source, where or "policy", "schema", problems) from exc


def build_policy(
    raw: Mapping[str, Any],
    campus_overrides: Mapping[str, Any] | None = None,
    *,
    source: str = BUNDLED,
    campus_source: str = "campus overrides",
) -> p.GradingPolicy:
    """Validate a parsed policy document (plus optional campus overrides) into a policy.

    `source` and `campus_source` name the two files in refusals.
    """
    if not isinstance(raw, Mapping):
        raise PolicyRefused(source, "policy", "schema", "the policy file is not a YAML mapping")
    document = dict(raw)
    defaults = document.get("defaults") or {}
    document["campuses"] = {
        campus: deep_merge(defaults, override or {})
        for campus, override in (document.get("campuses") or {}).items()
    }
    model = _validated(PolicyModel, document, source, "")
    policy = _policy(model)
    check_policy(policy, source)
    campuses: dict[str, p.CampusSettings] = {}
    for campus, campus_model in model.campuses.items():
        campuses[campus] = _campus(campus_model)
        check_campus(policy, campuses[campus], source, f"campuses.{campus}")
    if campus_overrides is not None and not isinstance(campus_overrides, Mapping):
        raise PolicyRefused(campus_source, "campuses", "schema", "not a mapping of campus ids")
    for campus, override in (campus_overrides or {}).items():
        where = str(campus)
        merged = deep_merge(defaults, override or {})
        settings = _campus(_validated(CampusModel, merged, campus_source, where))
        if settings.history.suicidality_family not in policy.families:
            raise PolicyRefused(
                campus_source,
                f"{where}.history.suicidality.family",
                "schema",
                f"unknown family {settings.history.suicidality_family!r}",
            )
        check_campus(policy, settings, campus_source, where)
        campuses[where] = settings
    return dataclasses.replace(policy, campuses=campuses)


def _policy(model: PolicyModel) -> p.GradingPolicy:
    tasks = model.tasks
    return p.GradingPolicy(
        version=model.version,
        signal_rules=tuple(
            p.SignalRule(
                id=r.id,
                all_of=tuple(r.all_of),
                any_of=tuple(r.any_of),
                severity=Level.from_id(r.severity),
                reason=r.reason.build(),
                observed_within=parse_duration(r.observed_within) if r.observed_within else None,
                effects=_effects(r, tasks),
            )
            for r in model.signal_rules
        ),
        signal_weights=p.SignalWeights(
            weights={s.value: w for s, w in model.signal_weights.weights.items()},
            moderate_at=model.signal_weights.moderate_at,
            mild_reason=model.signal_weights.mild_reason.build(),
            moderate_reason=model.signal_weights.moderate_reason.build(),
        ),
        instruments={i.value: scoring_of(i, m) for i, m in model.instruments.items()},
        screening_rules=tuple(
            p.ScreeningRule(
                id=r.id,
                instrument=r.instrument.value,
                all_of=tuple(p.Condition(c.measure, c.at_least) for c in r.all_of),
                severity=Level.from_id(r.severity),
                reason=r.reason.build(),
                source=r.source,
                effects=_effects(r, tasks),
            )
            for r in model.screening_rules
        ),
        defaults=_campus(model.defaults),
        realerts=p.Realerts(
            red_flag_signals=frozenset(s.value for s in model.realerts.red_flags.signals),
            red_flag_rules=frozenset(model.realerts.red_flags.screening_rules),
            reason=model.realerts.reason.build(),
        ),
        families={
            name: p.SignalFamily(
                name,
                tuple(s.value for s in f.signals),
                f.label.build(),
                f.includes_suicide_items,
            )
            for name, f in model.families.items()
        },
    )


def _effects(
    rule: SignalRuleModel | ScreeningRuleModel, tasks: Mapping[Any, TaskModel]
) -> p.RuleEffects:
    task = None
    if rule.task is not None:
        spec = tasks[rule.task]
        task = p.TaskSpec(rule.task.value, spec.role.value, parse_duration(spec.within))
    return p.RuleEffects(
        band=rule.band,
        ack_within=parse_duration(rule.ack_within) if rule.ack_within else None,
        task=task,
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
            raise_by=h.raise_by,
            ceiling=Level.from_id(h.ceiling),
            reason=h.reason.build(),
            suicidality_within=parse_duration(h.suicidality.within),
            suicidality_min_closed=Level.from_id(h.suicidality.min_closed_severity),
            suicidality_family=h.suicidality.family,
            suicidality_level=Level.from_id(h.suicidality.level),
            suicidality_reason=h.suicidality.reason.build(),
        ),
        ladder=p.Ladder(
            rungs={
                Level.from_id(severity): p.Rung(
                    owner=rung.owner.value,
                    inform=tuple(r.value for r in rung.inform),
                    inform_external=tuple(e.value for e in rung.inform_external),
                    ack_within=parse_duration(rung.ack_within),
                    escalate_within=parse_duration(rung.escalate_within),
                    realert_every=(
                        parse_duration(rung.realert_every) if rung.realert_every else None
                    ),
                    on_duty_at_raise=rung.on_duty_at_raise,
                )
                for severity, rung in ladder.rungs.items()
            },
            escalation_path=tuple(r.value for r in ladder.escalation_path),
        ),
    )


def bundled_policy_text() -> str:
    """The policy file shipped inside the package."""
    return resources.files("shouwang_triage.policy").joinpath(BUNDLED).read_text(encoding="utf-8")


def load_policy(path: Path | None = None, campus_file: Path | None = None) -> p.GradingPolicy:
    """Load the policy from `path` (default: the bundled one) and a campus overrides file."""
    source = str(path) if path else BUNDLED
    text = path.read_text(encoding="utf-8") if path else bundled_policy_text()
    overrides = None
    campus_source = str(campus_file) if campus_file else "campus overrides"
    if campus_file:
        overrides = _yaml(campus_file.read_text(encoding="utf-8"), campus_source)
    return build_policy(_yaml(text, source), overrides, source=source, campus_source=campus_source)


def _yaml(text: str, source: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyRefused(source, "file", "schema", f"not valid YAML: {exc}") from exc
