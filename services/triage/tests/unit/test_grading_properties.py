"""Properties every grade must keep, whatever the inputs (hypothesis)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from shouwang_contracts.instruments import INSTRUMENTS, BehaviorRecency, Instrument
from shouwang_contracts.vocabulary import Signal
from shouwang_triage.adapters.policy_file import load_policy
from shouwang_triage.domain.evidence import ClosedCase, ReportEvidence, ScreeningEvidence, Situation
from shouwang_triage.domain.grading import grade
from shouwang_triage.domain.levels import Level

from .examples import NOW

POLICY = load_policy()
CAMPUS = POLICY.defaults
SIGNALS = [s.value for s in Signal]

# The floor each red flag guarantees on its own (DESIGN §1 and the policy's signal rules).
RED_FLAG_FLOORS = {
    "suicide_attempt": Level.SEVERE,
    "suicide_plan": Level.SEVERE,
    "self_harm_behavior": Level.SEVERE,
    "self_harm_talk": Level.MODERATE,
    "hopelessness": Level.MODERATE,
    "giving_away_possessions": Level.MODERATE,
}

reports = st.builds(
    ReportEvidence,
    report_id=st.uuids().map(str),
    reporter_ref=st.sampled_from(["r1", "r2", "r3"]),
    reporter_role=st.just("dorm_leader"),
    signals=st.frozensets(st.sampled_from(SIGNALS), min_size=1, max_size=5),
    observed_at=st.integers(0, 24 * 40).map(lambda h: NOW - timedelta(hours=h)),
    received_at=st.integers(0, 24 * 35).map(lambda h: NOW - timedelta(hours=h)),
)


@st.composite
def screenings(draw: st.DrawFn, instrument: Instrument | None = None) -> ScreeningEvidence:
    chosen = instrument or draw(st.sampled_from(list(Instrument)))
    info = INSTRUMENTS[chosen]
    items = draw(
        st.lists(
            st.integers(info.min_value, info.max_value),
            min_size=info.item_count,
            max_size=info.item_count,
        )
    )
    recency = None
    if chosen is Instrument.CSSRS_SCREENER:
        recency = draw(st.sampled_from([r.value for r in BehaviorRecency]))
    hours = draw(st.integers(0, 24 * 35))
    return ScreeningEvidence(
        screening_id=draw(st.uuids().map(str)),
        instrument=chosen.value,
        items=tuple(items),
        administered_at=NOW - timedelta(hours=hours),
        received_at=NOW - timedelta(hours=hours),
        behavior_recency=recency,
        counseling_requested=draw(st.booleans()) if chosen is Instrument.UPI else None,
    )


closed_cases = st.builds(
    ClosedCase,
    case_id=st.uuids().map(str),
    severity=st.sampled_from(list(Level)),
    closed_at=st.integers(0, 400).map(lambda d: NOW - timedelta(days=d)),
)

situations = st.builds(
    Situation,
    now=st.just(NOW),
    reports=st.lists(reports, max_size=4).map(tuple),
    screenings=st.lists(screenings(), max_size=3).map(tuple),
    closed_cases=st.lists(closed_cases, max_size=2).map(tuple),
)


@settings(max_examples=300)
@given(situations, st.data())
def test_adding_a_signal_never_lowers_the_grade(situation: Situation, data: st.DataObject) -> None:
    before = grade(POLICY, CAMPUS, situation).level
    signal = data.draw(st.sampled_from(SIGNALS))
    if situation.reports:
        index = data.draw(st.integers(0, len(situation.reports) - 1))
        changed = list(situation.reports)
        changed[index] = replace(changed[index], signals=changed[index].signals | {signal})
        after_situation = replace(situation, reports=tuple(changed))
    else:
        new = data.draw(reports)
        after_situation = replace(situation, reports=(replace(new, signals=frozenset({signal})),))
    assert grade(POLICY, CAMPUS, after_situation).level >= before


@settings(max_examples=300)
@given(situations, reports)
def test_adding_a_report_never_lowers_the_grade(
    situation: Situation, report: ReportEvidence
) -> None:
    before = grade(POLICY, CAMPUS, situation).level
    after = grade(POLICY, CAMPUS, replace(situation, reports=(*situation.reports, report))).level
    assert after >= before


@settings(max_examples=400)
@given(situations, st.data())
def test_raising_a_score_never_lowers_the_grade(situation: Situation, data: st.DataObject) -> None:
    screening = data.draw(screenings())
    base = replace(
        situation,
        screenings=(
            *situation.screenings,
            replace(screening, administered_at=NOW, received_at=NOW),
        ),
    )
    info = INSTRUMENTS[Instrument(screening.instrument)]
    index = data.draw(st.integers(0, info.item_count - 1))
    raised_items = list(screening.items)
    raised_items[index] = data.draw(st.integers(raised_items[index], info.max_value))
    raised = replace(
        base,
        screenings=(
            *situation.screenings,
            replace(screening, items=tuple(raised_items), administered_at=NOW, received_at=NOW),
        ),
    )
    assert grade(POLICY, CAMPUS, raised).level >= grade(POLICY, CAMPUS, base).level


@settings(max_examples=300)
@given(situations, st.sampled_from(sorted(RED_FLAG_FLOORS)), st.integers(0, 24 * 29))
def test_a_red_flag_is_always_at_least_its_floor(
    situation: Situation, red_flag: str, hours_ago: int
) -> None:
    when = NOW - timedelta(hours=hours_ago)
    report = ReportEvidence("flag", "rf", "floor_leader", frozenset({red_flag}), when, when)
    result = grade(POLICY, CAMPUS, replace(situation, reports=(*situation.reports, report)))
    assert result.level >= RED_FLAG_FLOORS[red_flag]


@settings(max_examples=200)
@given(situations)
def test_the_same_inputs_always_give_the_same_grade_and_reasons(situation: Situation) -> None:
    first = grade(POLICY, CAMPUS, situation)
    shuffled = replace(
        situation,
        reports=tuple(reversed(situation.reports)),
        screenings=tuple(reversed(situation.screenings)),
        closed_cases=tuple(reversed(situation.closed_cases)),
    )
    assert grade(POLICY, CAMPUS, situation) == first
    assert grade(POLICY, CAMPUS, shuffled) == first


@settings(max_examples=300)
@given(
    st.lists(
        reports.filter(lambda r: r.signals.isdisjoint({"suicide_attempt", "suicide_plan"})),
        max_size=6,
    )
)
def test_corroboration_alone_never_reaches_critical(many: list[ReportEvidence]) -> None:
    assert grade(POLICY, CAMPUS, Situation(now=NOW, reports=tuple(many))).level < Level.CRITICAL


@given(situations)
def test_every_grade_above_none_has_a_reason_at_its_level(situation: Situation) -> None:
    result = grade(POLICY, CAMPUS, situation)
    if result.level > Level.NONE:
        assert result.reasons[0].level == result.level
    else:
        assert result.reasons == ()
