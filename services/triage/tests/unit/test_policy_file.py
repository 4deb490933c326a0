"""Loading the policy: validation refuses what the engine cannot apply or what leaves a student
unsafe, naming the file and the rule; campuses override."""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from shouwang_contracts.vocabulary import Role
from shouwang_triage.adapters.policy_checks import WINDOW_FLOOR
from shouwang_triage.adapters.policy_file import (
    PolicyRefused,
    build_policy,
    bundled_policy_text,
    load_policy,
    parse_duration,
)
from shouwang_triage.domain.levels import Level

RAW: dict[str, Any] = yaml.safe_load(bundled_policy_text())
STUDENT_TIERS = [r for r in Role if r.is_student]
SEVERITIES = ["mild", "moderate", "severe", "critical"]


def raw() -> dict[str, Any]:
    return copy.deepcopy(RAW)


def test_bundled_policy_loads_with_a_version_and_every_rung() -> None:
    policy = load_policy()
    assert policy.version
    assert set(policy.defaults.ladder.rungs) == {
        Level.MILD,
        Level.MODERATE,
        Level.SEVERE,
        Level.CRITICAL,
    }
    critical = policy.defaults.ladder.rungs[Level.CRITICAL]
    assert critical.ack_within == timedelta(minutes=15)
    assert critical.realert_every == timedelta(minutes=15)
    assert policy.defaults.ladder.rungs[Level.SEVERE].realert_every == timedelta(hours=1)
    assert set(critical.inform_external) == {"campus_security", "emergency_services"}
    # Evidence is kept as long as the longest look-back (UPI's year).
    assert policy.retention == timedelta(days=365)


def test_every_rule_cites_its_source() -> None:
    for rule in load_policy().screening_rules:
        assert rule.source
    assert all(rule["source"] for rule in RAW["signal_rules"])
    assert RAW["signal_weights"]["source"]
    for name, instrument in RAW["instruments"].items():
        assert instrument["source"], name
        assert all(group["source"] for group in instrument.get("suicide_items", []))
    assert all(task["source"] for task in RAW["tasks"].values())


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
        "fast-campus:\n  window: 45d\n  ladder:\n    rungs:\n      mild: {ack_within: 72h}\n",
        encoding="utf-8",
    )
    policy = load_policy(campus_file=overrides)
    fast = policy.for_campus("fast-campus")
    assert fast.window == timedelta(days=45)
    assert fast.ladder.rungs[Level.MILD].owner == "residence_counselor"
    assert fast.ladder.rungs[Level.SEVERE] == policy.defaults.ladder.rungs[Level.SEVERE]
    assert policy.for_campus("other") is policy.defaults


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (lambda d: d["signal_rules"][0].update(all_of=["feeling_blue"]), "feeling_blue"),
        (lambda d: d["signal_rules"][0].update(all_of=["family:nope"]), "unknown family"),
        (lambda d: d["signal_rules"][0].update(all_of=["channel:phone_call"]), "phone_call"),
        (
            lambda d: d["screening_rules"][0].update(
                all_of=[{"measure": "item:10", "at_least": 1}]
            ),
            "item:10",
        ),
        (
            lambda d: d["instruments"]["scl90"]["factors"].update(hostility=[11, 24, 63, 67, 74]),
            "cover each item once",
        ),
        (lambda d: d["defaults"]["corroboration"].update(ceiling="critical"), "ceiling"),
        (
            lambda d: (
                d["defaults"]["ladder"]["rungs"]["mild"].update(owner="college_leader")
                or d["defaults"]["ladder"].update(escalation_path=["residence_counselor"])
            ),
            "escalation path",
        ),
        (lambda d: d["signal_rules"].append(d["signal_rules"][0]), "duplicate"),
        (lambda d: d["screening_rules"][0]["reason"].update(zh="PHQ-9 {item:9}"), "placeholders"),
        (lambda d: d["families"]["mood"].update(signals=["persistent_low_mood"]), "every signal"),
        (lambda d: d["signal_rules"][0].update(task="cssrs_screen_soon"), "task"),
        (
            lambda d: d["defaults"]["ladder"]["rungs"]["critical"].update(
                inform_external=["the_press"]
            ),
            "inform_external",
        ),
    ],
)
def test_what_the_engine_cannot_apply_is_refused(damage: Any, says: str) -> None:
    document = raw()
    damage(document)
    with pytest.raises(PolicyRefused, match=says) as refused:
        build_policy(document)
    assert str(refused.value).startswith("grading-policy.yaml: ")


def test_a_band_that_asks_for_less_further_down_is_refused() -> None:
    document = raw()
    rule = next(r for r in document["screening_rules"] if r["id"] == "phq9.total.severe")
    rule["severity"] = "mild"
    with pytest.raises(PolicyRefused, match=r"band phq9\.total"):
        build_policy(document)


# --- safety rules, for the bundled defaults and for every campus override ------------------


def _campus_file(tmp_path: Path, override: dict[str, Any]) -> Path:
    path = tmp_path / "campuses.yaml"
    path.write_text(yaml.safe_dump({"north": override}, allow_unicode=True), encoding="utf-8")
    return path


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(STUDENT_TIERS),
    st.sampled_from(["owner", "inform", "path"]),
    st.sampled_from(SEVERITIES),
)
def test_the_loader_refuses_every_student_tier_owner(
    tmp_path_factory: pytest.TempPathFactory, tier: Role, place: str, severity: str
) -> None:
    rung: dict[str, Any] = {}
    ladder: dict[str, Any] = {"rungs": {severity: rung}}
    if place == "owner":
        rung["owner"] = tier.value
        ladder["escalation_path"] = [
            tier.value,
            "residence_counselor",
            "community_psych_teacher",
            "counseling_center",
            "college_leader",
        ]
    elif place == "inform":
        rung["inform"] = [tier.value]
    else:
        ladder["escalation_path"] = [*RAW["defaults"]["ladder"]["escalation_path"], tier.value]
    path = _campus_file(tmp_path_factory.mktemp("campus"), {"ladder": ladder})
    with pytest.raises(PolicyRefused) as refused:
        load_policy(campus_file=path)
    message = str(refused.value)
    assert message.startswith(f"{path}: north.ladder.")
    assert tier.value in message
    assert "[rule alerts.staff_only]" in message
    # The same in the policy file itself names that file.
    document = raw()
    document["defaults"]["ladder"] = {
        **document["defaults"]["ladder"],
        **ladder,
        "rungs": {
            **document["defaults"]["ladder"]["rungs"],
            severity: {**document["defaults"]["ladder"]["rungs"][severity], **rung},
        },
    }
    with pytest.raises(PolicyRefused, match=r"^grading-policy\.yaml: defaults\.ladder"):
        build_policy(document)


def _refusal(campus_file: Path) -> str | None:
    try:
        load_policy(campus_file=campus_file)
    except PolicyRefused as refused:
        return str(refused)
    return None


durations = st.integers(1, 96).map(lambda m: f"{m * 15}m")


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(["ack_within", "escalate_within"]),
    st.fixed_dictionaries({s: durations for s in SEVERITIES}),
)
def test_the_loader_refuses_every_unordered_deadline_set(
    tmp_path_factory: pytest.TempPathFactory, field: str, deadlines: dict[str, str]
) -> None:
    values = [parse_duration(deadlines[s]) for s in ("critical", "severe", "moderate", "mild")]
    ordered = values == sorted(values)
    override = {"ladder": {"rungs": {s: {field: deadlines[s]} for s in SEVERITIES}}}
    path = _campus_file(tmp_path_factory.mktemp("campus"), override)
    message = _refusal(path)
    if ordered and values[0] > timedelta(minutes=15):  # critical waits past its 15 minutes
        assert message is not None
        assert f"north.ladder.rungs.critical.{field}" in message
        assert "[rule alerts.never_quiet]" in message
        return
    if ordered:  # only the missing-contact rule's two hours may still be out of place
        assert message is None or "vs rule redflag.missing_contact" in message
        return
    assert message is not None
    assert message.startswith(f"{path}: north.ladder")
    assert "[rule deadlines.ordered]" in message
    assert "critical ≤ severe ≤ moderate ≤ mild" in message


@pytest.mark.parametrize("severity", ["severe", "critical"])
def test_a_severe_or_critical_alert_may_not_go_quiet(tmp_path: Path, severity: str) -> None:
    path = _campus_file(tmp_path, {"ladder": {"rungs": {severity: {"realert_every": None}}}})
    with pytest.raises(PolicyRefused, match=r"\[rule alerts.never_quiet\]"):
        load_policy(campus_file=path)


def test_critical_may_not_re_alert_less_often_than_severe(tmp_path: Path) -> None:
    path = _campus_file(tmp_path, {"ladder": {"rungs": {"critical": {"realert_every": "2h"}}}})
    with pytest.raises(PolicyRefused, match="less often than severe"):
        load_policy(campus_file=path)


def test_a_campus_may_not_let_an_unanswered_critical_alert_re_alert_less_often_than_15m(
    tmp_path: Path,
) -> None:
    # Ordered against severe (both an hour), yet a student in imminent danger whom nobody
    # answered would be raised again only hourly.
    rungs = {"critical": {"realert_every": "1h"}, "severe": {"realert_every": "1h"}}
    path = _campus_file(tmp_path, {"ladder": {"rungs": rungs}})
    with pytest.raises(PolicyRefused, match=r"critical.realert_every.*\[rule alerts.never_quiet\]"):
        load_policy(campus_file=path)
    faster = _campus_file(tmp_path, {"ladder": {"rungs": {"critical": {"realert_every": "5m"}}}})
    assert load_policy(campus_file=faster).for_campus("north").ladder.rungs[
        Level.CRITICAL
    ].realert_every == timedelta(minutes=5)


@pytest.mark.parametrize(
    ("section", "change", "field", "rule"),
    [
        ("history", {"raise_by": 0}, "raise_by", "history.kept"),
        ("history", {"within": "30d"}, "within", "history.kept"),
        ("history", {"min_closed_severity": "critical"}, "min_closed_severity", "history.kept"),
        ("history", {"from_level": "moderate"}, "from_level", "history.kept"),
        ("history", {"ceiling": "mild"}, "ceiling", "history.kept"),
        ("history", {"ceiling": "severe"}, "ceiling", "history.kept"),
        ("history", {"suicidality": {"within": "14d"}}, "suicidality.within", "history.kept"),
        ("history", {"suicidality": {"level": "severe"}}, "suicidality.level", "history.kept"),
        (
            "history",
            {"suicidality": {"family": "daily_life"}},
            "suicidality.family",
            "history.kept",
        ),
        ("corroboration", {"raise_by": 0}, "raise_by", "corroboration.kept"),
        ("corroboration", {"ceiling": "mild"}, "ceiling", "corroboration.kept"),
    ],
)
def test_a_campus_may_not_switch_off_the_memory_of_a_closed_crisis_or_corroboration(
    tmp_path: Path, section: str, change: dict[str, object], field: str, rule: str
) -> None:
    path = _campus_file(tmp_path, {section: change})
    with pytest.raises(PolicyRefused, match=rf"\[rule {rule}\]") as refused:
        load_policy(campus_file=path)
    assert f"north.{section}.{field}:" in str(refused.value)


@pytest.mark.parametrize(
    "parties", [[], ["campus_security"], ["emergency_services"]], ids=["none", "no_110", "no_guard"]
)
def test_a_campus_may_not_stop_a_critical_alert_calling_security_and_emergency_services(
    tmp_path: Path, parties: list[str]
) -> None:
    path = _campus_file(tmp_path, {"ladder": {"rungs": {"critical": {"inform_external": parties}}}})
    with pytest.raises(PolicyRefused, match=r"\[rule critical.reaches_out\]") as refused:
        load_policy(campus_file=path)
    message = str(refused.value)
    assert message.startswith(f"{path}: north.ladder.rungs.critical.inform_external:")
    for party in {"campus_security", "emergency_services"} - set(parties):
        assert party in message
    # The policy file's own defaults are held to the same.
    document = raw()
    document["defaults"]["ladder"]["rungs"]["critical"]["inform_external"] = parties
    with pytest.raises(PolicyRefused, match=r"^grading-policy\.yaml: defaults\.ladder\.rungs"):
        build_policy(document)


def test_a_campus_may_not_stop_a_critical_alert_reaching_the_on_duty_contact_at_once(
    tmp_path: Path,
) -> None:
    path = _campus_file(tmp_path, {"ladder": {"rungs": {"critical": {"on_duty_at_raise": False}}}})
    with pytest.raises(PolicyRefused, match=r"\[rule critical.reaches_out\]") as refused:
        load_policy(campus_file=path)
    assert "north.ladder.rungs.critical.on_duty_at_raise:" in str(refused.value)
    # Severe has no on-duty call at raise to switch off; a campus adding one may.
    severe = _campus_file(tmp_path, {"ladder": {"rungs": {"severe": {"on_duty_at_raise": True}}}})
    assert (
        load_policy(campus_file=severe)
        .for_campus("north")
        .ladder.rungs[Level.SEVERE]
        .on_duty_at_raise
    )


@pytest.mark.parametrize("field", ["ack_within", "escalate_within"])
def test_a_campus_may_not_let_a_critical_alert_wait_longer_than_15_minutes(
    tmp_path: Path, field: str
) -> None:
    # Ordered against severe (both an hour), yet nobody would be asked again about a student
    # in imminent danger for an hour per rung.
    rungs = {"critical": {field: "1h"}, "severe": {field: "1h"}}
    path = _campus_file(tmp_path, {"ladder": {"rungs": rungs}})
    with pytest.raises(PolicyRefused, match=r"\[rule alerts.never_quiet\]") as refused:
        load_policy(campus_file=path)
    assert f"north.ladder.rungs.critical.{field}: critical {field} is 1h" in str(refused.value)
    sooner = _campus_file(tmp_path, {"ladder": {"rungs": {"critical": {field: "5m"}}}})
    rung = load_policy(campus_file=sooner).for_campus("north").ladder.rungs[Level.CRITICAL]
    assert getattr(rung, field) == timedelta(minutes=5)


@pytest.mark.parametrize("severity", ["severe", "critical"])
def test_a_campus_may_not_keep_a_severe_or_critical_alert_from_the_college_leader(
    tmp_path: Path, severity: str
) -> None:
    inform = ["residence_counselor", "community_psych_teacher"]
    path = _campus_file(tmp_path, {"ladder": {"rungs": {severity: {"inform": inform}}}})
    with pytest.raises(PolicyRefused, match=r"\[rule alerts.everyone_hears\]") as refused:
        load_policy(campus_file=path)
    message = str(refused.value)
    assert message.startswith(f"{path}: north.ladder.rungs.{severity}.inform:")
    assert "college_leader" in message
    # The owner counts as hearing it: a campus may hand the alert to the college leader.
    owned = {"owner": "college_leader", "inform": [*inform, "counseling_center"]}
    moved = _campus_file(tmp_path, {"ladder": {"rungs": {severity: owned}}})
    assert (
        load_policy(campus_file=moved)
        .for_campus("north")
        .ladder.rungs[Level.from_id(severity)]
        .owner
        == "college_leader"
    )


def test_a_campus_window_may_not_forget_a_peer_s_report_before_the_answer_it_equals(
    tmp_path: Path,
) -> None:
    # self_harm_talk is graded as PHQ-9 item 9 = 1 (held two weeks) and C-SSRS Q1/Q2 (held a
    # month): a 29-day window would drop the peer's report a day before the C-SSRS answer.
    path = _campus_file(tmp_path, {"window": "29d"})
    with pytest.raises(PolicyRefused, match=r"\[rule window.parity\]") as refused:
        load_policy(campus_file=path)
    assert str(refused.value).startswith(f"{path}: north.window: the window is 29d")
    month = _campus_file(tmp_path, {"window": "30d"})
    assert load_policy(campus_file=month).for_campus("north").window == timedelta(days=30)


def test_the_window_floor_is_the_look_back_of_the_answers_self_harm_talk_is_graded_as() -> None:
    policy = load_policy()
    held = {
        policy.instruments["phq9"].look_back(9),
        policy.instruments["cssrs_screener"].look_back(1),
        policy.instruments["cssrs_screener"].look_back(2),
    }
    assert max(d for d in held if d is not None) == WINDOW_FLOOR
    talk = next(r for r in RAW["signal_rules"] if r["id"] == "redflag.self_harm_talk")
    assert "PHQ-9 item 9 = 1 and C-SSRS Q1/Q2" in talk["source"]


def test_a_campus_may_ask_for_more_reporters_before_corroboration_raises(tmp_path: Path) -> None:
    more = _campus_file(tmp_path, {"corroboration": {"min_reporters": 3}})
    assert load_policy(campus_file=more).for_campus("north").corroboration.min_reporters == 3


def test_a_campus_may_remember_closed_cases_longer(tmp_path: Path) -> None:
    path = _campus_file(tmp_path, {"history": {"within": "365d"}})
    assert load_policy(campus_file=path).for_campus("north").history.within == timedelta(days=365)


def test_a_rule_deadline_may_not_undercut_a_graver_rung(tmp_path: Path) -> None:
    # A campus that gives severe alerts three hours would let a missing student's moderate
    # alert (two hours) be answered before a severe one.
    path = _campus_file(tmp_path, {"ladder": {"rungs": {"severe": {"ack_within": "3h"}}}})
    with pytest.raises(PolicyRefused, match=r"redflag\.missing_contact") as refused:
        load_policy(campus_file=path)
    assert "graver grade would wait longer" in str(refused.value)


def test_a_follow_up_task_may_not_go_to_a_student(tmp_path: Path) -> None:
    document = raw()
    document["tasks"]["locate_student"]["role"] = "dorm_leader"
    with pytest.raises(PolicyRefused, match=r"tasks.locate_student.role.*alerts.staff_only"):
        build_policy(document)


def test_a_campus_file_error_names_the_campus_file(tmp_path: Path) -> None:
    path = _campus_file(tmp_path, {"window": "a while"})
    with pytest.raises(PolicyRefused, match=rf"^{path}: north: north.window"):
        load_policy(campus_file=path)
