"""Alert decisions and the climb up the escalation path."""

from __future__ import annotations

from datetime import timedelta

import pytest
from shouwang_triage.adapters.policy_file import load_policy
from shouwang_triage.domain.ladder import (
    AlertAction,
    OpenAlert,
    decide_alert,
    first_assignment,
    next_assignment,
)
from shouwang_triage.domain.levels import Level

from .examples import NOW

LADDER = load_policy().defaults.ladder


def open_alert(level: Level) -> OpenAlert:
    return OpenAlert("a1", level, "residence_counselor", 0, NOW)


@pytest.mark.parametrize(
    ("level", "current", "action"),
    [
        (Level.NONE, None, AlertAction.NONE),
        (Level.MILD, None, AlertAction.RAISE),
        (Level.CRITICAL, None, AlertAction.RAISE),
        (Level.SEVERE, Level.MILD, AlertAction.UPGRADE),
        (Level.MILD, Level.MILD, AlertAction.KEEP),
        (Level.MILD, Level.SEVERE, AlertAction.KEEP_LOWER),
        (Level.NONE, Level.MODERATE, AlertAction.KEEP_LOWER),
    ],
)
def test_decide_alert(level: Level, current: Level | None, action: AlertAction) -> None:
    assert decide_alert(level, open_alert(current) if current is not None else None) is action


def test_first_rungs_follow_design() -> None:
    mild = first_assignment(LADDER, Level.MILD, NOW)
    assert (mild.owner, mild.ack_deadline - NOW) == ("residence_counselor", timedelta(hours=72))
    moderate = first_assignment(LADDER, Level.MODERATE, NOW)
    assert (moderate.owner, moderate.ack_deadline - NOW) == (
        "community_psych_teacher",
        timedelta(hours=24),
    )
    severe = first_assignment(LADDER, Level.SEVERE, NOW)
    assert severe.owner == "counseling_center"
    assert set(severe.inform) == {
        "residence_counselor",
        "community_psych_teacher",
        "college_leader",
    }
    critical = first_assignment(LADDER, Level.CRITICAL, NOW)
    assert critical.ack_deadline - NOW == timedelta(minutes=15)
    assert critical.inform_external == ("campus_security", "emergency_services")
    assert critical.notify_on_duty
    assert not severe.notify_on_duty


def test_a_rule_may_shorten_a_first_deadline_but_never_lengthen_it() -> None:
    assert first_assignment(LADDER, Level.MODERATE, NOW, timedelta(hours=2)).ack_deadline == (
        NOW + timedelta(hours=2)
    )
    assert first_assignment(LADDER, Level.CRITICAL, NOW, timedelta(hours=2)).ack_deadline == (
        NOW + timedelta(minutes=15)
    )


@pytest.mark.parametrize("level", [Level.MILD, Level.MODERATE])
def test_mild_and_moderate_climb_every_tier_then_the_college_leader_then_stop(
    level: Level,
) -> None:
    owner, owners = "residence_counselor", []
    while (step := next_assignment(LADDER, level, owner, NOW)) is not None:
        assert owner in step.inform
        assert step.owner not in step.inform
        owner = step.owner
        owners.append(owner)
    assert owners == ["community_psych_teacher", "counseling_center", "college_leader"]


def test_critical_goes_from_the_center_to_the_college_leader() -> None:
    step = next_assignment(LADDER, Level.CRITICAL, "counseling_center", NOW)
    assert step is not None
    assert step.owner == "college_leader"
    assert step.ack_deadline - NOW == timedelta(minutes=15)
    assert step.realert_attempt == 0


@pytest.mark.parametrize(("level", "every"), [(Level.SEVERE, 60), (Level.CRITICAL, 15)])
def test_severe_and_critical_never_go_quiet_at_the_top(level: Level, every: int) -> None:
    owner, attempt = "college_leader", 0
    for expected in (1, 2, 3):
        step = next_assignment(LADDER, level, owner, NOW, attempt)
        assert step is not None
        assert (step.owner, step.realert_attempt) == ("college_leader", expected)
        assert step.notify_on_duty
        assert step.ack_deadline - NOW == timedelta(minutes=every)
        assert set(step.inform) >= {
            "residence_counselor",
            "community_psych_teacher",
            "counseling_center",
        }
        assert "college_leader" not in step.inform
        attempt = step.realert_attempt
