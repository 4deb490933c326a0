"""The graded-examples table beside the policy: every band boundary, on both sides."""

from __future__ import annotations

from typing import Any

import pytest
from shouwang_contracts.instruments import INSTRUMENTS, Instrument
from shouwang_triage.adapters.policy_file import parse_duration
from shouwang_triage.domain.grading import grade
from shouwang_triage.domain.levels import Level
from shouwang_triage.domain.policy import GradingPolicy

from .examples import load_examples, screening_items, situation_from

EXAMPLES = load_examples()


@pytest.mark.parametrize("example", EXAMPLES, ids=[e["name"] for e in EXAMPLES])
def test_example_is_graded_as_the_table_says(
    policy: GradingPolicy, example: dict[str, Any]
) -> None:
    situation = situation_from(example)
    for screening in situation.screenings:
        problems = INSTRUMENTS[Instrument(screening.instrument)].validate_items(
            list(screening.items)
        )
        assert not problems, problems

    result = grade(policy, policy.for_campus(example.get("campus", "any")), situation)

    fired = [r.rule_id for r in result.reasons]
    assert result.level is Level.from_id(example["expect"]), fired
    assert set(example.get("rules", [])) <= set(fired), fired
    assert not set(example.get("not_rules", [])) & set(fired), fired
    said = " ".join(r.text.zh for r in result.reasons)
    for text in example.get("says", []):
        assert text in said, said
    if "tasks" in example:
        assert [t.task for t in result.tasks] == example["tasks"]
    if "ack_within" in example:
        assert result.ack_within == parse_duration(example["ack_within"])
    assert result.incomplete is example.get("incomplete", False)
    if "held_by" in example:
        held = {r.held_by for r in result.reasons} - {None}
        assert held == {f"screening-{example['held_by']}"}, result.reasons
    assert result.policy_version == policy.version


def test_reasons_are_strongest_first_and_readable(policy: GradingPolicy) -> None:
    example = next(
        e for e in EXAMPLES if e["name"] == "a peer's plan and a C-SSRS Q5 grade the same"
    )
    result = grade(policy, policy.defaults, situation_from(example))
    levels = [r.level for r in result.reasons]
    assert levels == sorted(levels, reverse=True)
    assert all(r.text.zh and r.text.en for r in result.reasons)
    assert all("{" not in r.text.zh + r.text.en for r in result.reasons)


def test_every_rule_of_the_policy_has_a_graded_example(policy: GradingPolicy) -> None:
    """A rule nobody has seen fire in the table is a rule nobody has reviewed."""
    fired: set[str] = set()
    for example in EXAMPLES:
        result = grade(policy, policy.defaults, situation_from(example))
        fired |= {r.rule_id for r in result.reasons}
    rules = {r.id for r in policy.signal_rules} | {r.id for r in policy.screening_rules}
    assert rules - fired == set()


def test_total_fill_helper_respects_totals() -> None:
    items = screening_items({"instrument": "phq9", "total": 20, "set": {9: 3}})
    assert sum(items) == 20
    assert items[8] == 3
