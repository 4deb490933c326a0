"""The graded-examples table beside the policy: every band boundary, on both sides."""

from __future__ import annotations

from typing import Any

import pytest
from shouwang_contracts.instruments import INSTRUMENTS, Instrument
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

    assert result.level is Level.from_id(example["expect"]), [r.rule_id for r in result.reasons]
    fired = {r.rule_id for r in result.reasons}
    assert set(example.get("rules", [])) <= fired
    assert result.policy_version == policy.version


def test_reasons_are_strongest_first_and_readable(policy: GradingPolicy) -> None:
    example = next(
        e for e in EXAMPLES if e["name"] == "plan with giving away possessions is critical"
    )
    result = grade(policy, policy.defaults, situation_from(example))
    levels = [r.level for r in result.reasons]
    assert levels == sorted(levels, reverse=True)
    assert all(r.text.zh and r.text.en for r in result.reasons)


def test_total_fill_helper_respects_totals() -> None:
    items = screening_items({"instrument": "phq9", "total": 20, "set": {9: 3}})
    assert sum(items) == 20
    assert items[8] == 3
