"""The repeat-alert rule as policy data: what the loader refuses, and when a holding ends."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
import yaml
from shouwang_triage.adapters.policy_file import PolicyRefused, build_policy, bundled_policy_text
from shouwang_triage.domain.evidence import ClosedCase
from shouwang_triage.domain.levels import Level
from shouwang_triage.domain.policy import GradingPolicy
from shouwang_triage.domain.realerts import HeldAlert

from .examples import NOW

RAW: dict[str, Any] = yaml.safe_load(bundled_policy_text())


def raw() -> dict[str, Any]:
    return copy.deepcopy(RAW)


def test_the_bundled_rule_cites_its_source_and_lists_every_critical_suicide_answer(
    policy: GradingPolicy,
) -> None:
    assert "Sentinel Event Alert" in RAW["realerts"]["source"]
    critical = {r.id for r in policy.screening_rules if r.severity is Level.CRITICAL}
    assert policy.realerts.red_flag_rules == critical
    assert {"suicide_attempt", "suicide_plan", "self_harm_behavior"} <= (
        policy.realerts.red_flag_signals
    )
    assert {"giving_away_possessions", "missing_contact"} <= policy.realerts.red_flag_signals


@pytest.mark.parametrize(
    ("damage", "where"),
    [
        (
            lambda d: d["realerts"]["red_flags"]["signals"].remove("suicide_plan"),
            "signal_rules.redflag.suicide_plan",
        ),
        (
            lambda d: d["realerts"]["red_flags"]["screening_rules"].remove("cssrs.q5.plan"),
            "screening_rules.cssrs.q5.plan",
        ),
    ],
)
def test_a_critical_rule_that_could_be_held_back_is_refused(damage: Any, where: str) -> None:
    """A new plan or a new critical answer must always page, whatever is acknowledged."""
    document = raw()
    damage(document)
    with pytest.raises(PolicyRefused) as refused:
        build_policy(document)
    message = str(refused.value)
    assert message.startswith(f"grading-policy.yaml: {where}: ")
    assert message.endswith("[rule realerts.critical_is_news]")


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (lambda d: d.pop("realerts"), "realerts"),
        (
            lambda d: d["realerts"]["red_flags"]["screening_rules"].append("cssrs.q7"),
            "unknown rules",
        ),
        (
            lambda d: d["realerts"]["red_flags"]["signals"].append("feeling_blue"),
            r"realerts\.red_flags\.signals\.5",
        ),
        (lambda d: d["realerts"]["reason"].update(zh="由{owner}确认"), "placeholders"),
        (lambda d: d["realerts"].update(source=""), "source"),
    ],
)
def test_what_the_rule_cannot_apply_is_refused(damage: Any, says: str) -> None:
    document = raw()
    damage(document)
    with pytest.raises(PolicyRefused, match=says):
        build_policy(document)


def held(case_id: str | None) -> HeldAlert:
    return HeldAlert("a1", Level.CRITICAL, NOW - timedelta(days=10), case_id)


def closure(case_id: str, days_ago: int) -> ClosedCase:
    return ClosedCase(case_id, Level.CRITICAL, NOW - timedelta(days=days_ago))


def test_a_holding_lasts_while_its_case_is_open() -> None:
    assert held("c1").still_held([])
    assert held("c1").still_held([closure("older", 40)])  # history, not this case
    assert held(None).still_held([closure("older", 40)])


def test_a_holding_ends_when_its_case_or_any_later_case_closes() -> None:
    assert not held("c1").still_held([closure("c1", 5)])
    assert not held(None).still_held([closure("c1", 5)])
    assert not held("c1").still_held([closure("c2", 1)])  # one active case per student
    # Casework may close a case before its alert is acknowledged: nothing is held then.
    assert not held("c1").still_held([closure("c1", 20)])
