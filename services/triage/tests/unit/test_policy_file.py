"""Loading the policy: validation refuses what the engine cannot apply; campuses override."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError
from shouwang_triage.adapters.policy_file import (
    build_policy,
    bundled_policy_text,
    load_policy,
    parse_duration,
)
from shouwang_triage.domain.levels import Level


def raw() -> dict[str, Any]:
    return dict(yaml.safe_load(bundled_policy_text()))


def test_bundled_policy_loads_with_a_version_and_every_rung() -> None:
    policy = load_policy()
    assert policy.version
    assert set(policy.defaults.ladder.rungs) == {
        Level.MILD,
        Level.MODERATE,
        Level.SEVERE,
        Level.CRITICAL,
    }
    assert policy.defaults.ladder.rungs[Level.CRITICAL].ack_within == timedelta(minutes=15)
    assert "campus_security" in policy.defaults.ladder.rungs[Level.CRITICAL].inform_external


def test_every_screening_rule_cites_its_manual() -> None:
    for rule in load_policy().screening_rules:
        assert rule.source


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("72h", timedelta(hours=72)),
        ("15m", timedelta(minutes=15)),
        ("30d", timedelta(days=30)),
        ("1h30m", timedelta(minutes=90)),
        ("5s", timedelta(seconds=5)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


def test_a_campus_overrides_only_what_it_names(tmp_path: Path) -> None:
    overrides = tmp_path / "campuses.yaml"
    overrides.write_text(
        "fast-campus:\n  window: 7d\n  ladder:\n    rungs:\n      mild: {ack_within: 2s}\n",
        encoding="utf-8",
    )
    policy = load_policy(campus_file=overrides)
    fast = policy.for_campus("fast-campus")
    assert fast.window == timedelta(days=7)
    assert fast.ladder.rungs[Level.MILD].ack_within == timedelta(seconds=2)
    assert fast.ladder.rungs[Level.MILD].owner == "residence_counselor"
    assert fast.ladder.rungs[Level.SEVERE] == policy.defaults.ladder.rungs[Level.SEVERE]
    assert policy.for_campus("other") is policy.defaults
    assert policy.longest_window == timedelta(days=30)


def test_unknown_signal_is_refused() -> None:
    document = raw()
    document["signal_rules"][0]["all_of"] = ["feeling_blue"]
    with pytest.raises(ValidationError):
        build_policy(document)


def test_unknown_measure_is_refused() -> None:
    document = raw()
    document["screening_rules"][0]["all_of"] = [{"measure": "item:10", "at_least": 1}]
    with pytest.raises(ValidationError, match="item:10"):
        build_policy(document)


def test_factors_must_cover_every_item_once() -> None:
    document = raw()
    document["instruments"]["scl90"]["factors"]["hostility"] = [11, 24, 63, 67, 74]
    with pytest.raises(ValidationError, match="cover each item once"):
        build_policy(document)


def test_corroboration_may_not_climb_to_critical() -> None:
    document = raw()
    document["defaults"]["corroboration"]["ceiling"] = "critical"
    with pytest.raises(ValidationError):
        build_policy(document)


def test_a_rung_owner_must_be_on_the_escalation_path() -> None:
    document = raw()
    document["defaults"]["ladder"]["rungs"]["mild"]["owner"] = "floor_leader"
    with pytest.raises(ValidationError, match="escalation path"):
        build_policy(document)


def test_duplicate_rule_ids_are_refused() -> None:
    document = raw()
    document["signal_rules"].append(document["signal_rules"][0])
    with pytest.raises(ValidationError, match="duplicate"):
        build_policy(document)
