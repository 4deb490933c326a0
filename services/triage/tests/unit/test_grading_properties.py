"""Properties every grade must keep, whatever the inputs (hypothesis)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from shouwang_contracts.instruments import INSTRUMENTS, BehaviorRecency, Instrument
from shouwang_contracts.vocabulary import ReportChannel, Signal
from shouwang_triage.adapters.policy_file import load_policy
from shouwang_triage.domain.evidence import ClosedCase, ReportEvidence, ScreeningEvidence, Situation
from shouwang_triage.domain.grading import grade
from shouwang_triage.domain.levels import Level

from .examples import NOW

POLICY = load_policy()
CAMPUS = POLICY.defaults
SIGNALS = [s.value for s in Signal]

# The floor each red flag guarantees on its own, observed now (DESIGN §1, the signal rules).
RED_FLAG_FLOORS = {
    "suicide_attempt": Level.CRITICAL,
    "suicide_plan": Level.CRITICAL,
    "self_harm_behavior": Level.CRITICAL,
    "giving_away_possessions": Level.CRITICAL,
    "self_harm_talk": Level.MODERATE,
    "hopelessness": Level.MODERATE,
    "missing_contact": Level.MODERATE,
}
# Items asking about suicide, and how long (days) an answer holds (the instruments' recall).
SUICIDE_ITEMS = {
    Instrument.PHQ9: {9: 14},
    Instrument.CSSRS_SCREENER: {1: 30, 2: 30, 3: 30, 4: 30, 5: 30, 6: 90},
    Instrument.UPI: {25: 365},
    Instrument.SCL90: {15: 7},
}

# Suicide items every respondent is asked (C-SSRS Q3-Q5 follow a yes to Q2 only): left blank,
# they are asked about in person (policy 2026.12-5, `*.unanswered`).
ASKED_WHEN_BLANK = {
    Instrument.PHQ9: {9},
    Instrument.CSSRS_SCREENER: {1, 2, 6},
    Instrument.UPI: {25},
    Instrument.SCL90: {15},
    Instrument.GAD7: set(),
}

reports = st.builds(
    ReportEvidence,
    report_id=st.uuids().map(str),
    reporter_ref=st.sampled_from(["r1", "r2", "r3"]),
    reporter_role=st.just("dorm_leader"),
    signals=st.frozensets(st.sampled_from(SIGNALS), min_size=1, max_size=5),
    observed_at=st.integers(0, 24 * 120).map(lambda h: NOW - timedelta(hours=h)),
    received_at=st.integers(0, 24 * 35).map(lambda h: NOW - timedelta(hours=h)),
    channel=st.sampled_from([c.value for c in ReportChannel]),
)


@st.composite
def screenings(
    draw: st.DrawFn,
    instrument: Instrument | None = None,
    max_hours: int = 24 * 35,
    blanks: bool = True,
) -> ScreeningEvidence:
    chosen = instrument or draw(st.sampled_from(list(Instrument)))
    info = INSTRUMENTS[chosen]
    items = draw(
        st.lists(
            st.integers(info.min_value, info.max_value),
            min_size=info.item_count,
            max_size=info.item_count,
        )
    )
    unanswered = frozenset()
    if blanks and draw(st.booleans()):
        unanswered = draw(st.frozensets(st.integers(1, info.item_count), max_size=3))
        for n in unanswered:
            items[n - 1] = info.min_value
    recency = None
    if chosen is Instrument.CSSRS_SCREENER:
        recency = draw(st.sampled_from([r.value for r in BehaviorRecency]))
    hours = draw(st.integers(0, max_hours))
    return ScreeningEvidence(
        screening_id=draw(st.uuids().map(str)),
        instrument=chosen.value,
        items=tuple(items),
        administered_at=NOW - timedelta(hours=hours),
        received_at=NOW - timedelta(hours=hours),
        behavior_recency=recency,
        counseling_requested=draw(st.booleans()) if chosen is Instrument.UPI else None,
        unanswered=unanswered,
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


def level(situation: Situation) -> Level:
    return grade(POLICY, CAMPUS, situation).level


@settings(max_examples=300)
@given(situations, st.data())
def test_adding_a_signal_never_lowers_the_grade(situation: Situation, data: st.DataObject) -> None:
    before = level(situation)
    signal = data.draw(st.sampled_from(SIGNALS))
    if situation.reports:
        index = data.draw(st.integers(0, len(situation.reports) - 1))
        changed = list(situation.reports)
        changed[index] = replace(changed[index], signals=changed[index].signals | {signal})
        after_situation = replace(situation, reports=tuple(changed))
    else:
        new = data.draw(reports)
        after_situation = replace(situation, reports=(replace(new, signals=frozenset({signal})),))
    assert level(after_situation) >= before


@settings(max_examples=300)
@given(situations, reports)
def test_adding_a_report_never_lowers_the_grade(
    situation: Situation, report: ReportEvidence
) -> None:
    assert level(replace(situation, reports=(*situation.reports, report))) >= level(situation)


@settings(max_examples=200)
@given(situations, reports)
def test_a_student_who_asked_for_help_within_the_window_is_at_least_moderate(
    situation: Situation, report: ReportEvidence
) -> None:
    asked = replace(report, channel=ReportChannel.SELF_REFERRAL.value, received_at=NOW)
    assert level(replace(situation, reports=(*situation.reports, asked))) >= Level.MODERATE


@settings(max_examples=400)
@given(situations, st.data())
def test_raising_an_item_never_lowers_the_grade(situation: Situation, data: st.DataObject) -> None:
    """Any item of any sheet, the latest or an earlier one, blanks or not."""
    assume(situation.screenings)
    which = data.draw(st.integers(0, len(situation.screenings) - 1))
    sheet = situation.screenings[which]
    info = INSTRUMENTS[Instrument(sheet.instrument)]
    answered = [n for n in range(1, info.item_count + 1) if n not in sheet.unanswered]
    assume(answered)
    number = data.draw(st.sampled_from(answered))
    items = list(sheet.items)
    items[number - 1] = data.draw(st.integers(items[number - 1], info.max_value))
    raised = list(situation.screenings)
    raised[which] = replace(sheet, items=tuple(items))
    assert level(replace(situation, screenings=tuple(raised))) >= level(situation)


@settings(max_examples=300)
@given(situations, st.sampled_from(sorted(RED_FLAG_FLOORS)), st.integers(0, 24 * 29))
def test_a_red_flag_is_always_at_least_its_floor(
    situation: Situation, red_flag: str, hours_ago: int
) -> None:
    when = NOW - timedelta(hours=hours_ago)
    report = ReportEvidence("flag", "rf", "floor_leader", frozenset({red_flag}), when, when)
    assert (
        level(replace(situation, reports=(*situation.reports, report))) >= RED_FLAG_FLOORS[red_flag]
    )


@st.composite
def suicide_answer(draw: st.DrawFn) -> tuple[ScreeningEvidence, int]:
    """A sheet whose only answers are suicide items, within the items' look-back."""
    instrument = draw(st.sampled_from(sorted(SUICIDE_ITEMS)))
    info = INSTRUMENTS[instrument]
    held = SUICIDE_ITEMS[instrument]
    number = draw(st.sampled_from(sorted(held)))
    items = [info.min_value] * info.item_count
    items[number - 1] = draw(st.integers(info.min_value + 1, info.max_value))
    hours = draw(st.integers(1, held[number] * 24 - 1))
    recency = None
    if instrument is Instrument.CSSRS_SCREENER:
        recency = "past_3_months" if number == 6 else "never"
    sheet = ScreeningEvidence(
        f"held-{instrument.value}",
        instrument.value,
        tuple(items),
        NOW - timedelta(hours=hours),
        NOW - timedelta(hours=hours),
        behavior_recency=recency,
        counseling_requested=False if instrument is Instrument.UPI else None,
    )
    return sheet, hours


@settings(max_examples=400)
@given(suicide_answer(), st.data(), situations)
def test_a_suicide_item_keeps_its_floor_whatever_later_sheets_say(
    answer: tuple[ScreeningEvidence, int], data: st.DataObject, others: Situation
) -> None:
    sheet, hours = answer
    floor = level(Situation(now=NOW, screenings=(sheet,)))
    assert floor >= Level.MODERATE
    later = data.draw(
        st.lists(screenings(Instrument(sheet.instrument), max_hours=hours - 1), max_size=3)
    )
    everything = replace(others, screenings=(*others.screenings, sheet, *later))
    assert level(everything) >= floor


@settings(max_examples=300)
@given(situations, st.data())
def test_behaviour_within_3_months_a_plan_and_cssrs_intent_are_always_critical(
    situation: Situation, data: st.DataObject
) -> None:
    kinds = ["attempt", "self_harm", "giving_away", "plan", "q4", "q5", "q6"]
    kind = data.draw(st.sampled_from(kinds))
    if kind in ("attempt", "self_harm", "giving_away", "plan"):
        signal = {
            "attempt": "suicide_attempt",
            "self_harm": "self_harm_behavior",
            "giving_away": "giving_away_possessions",
        }.get(kind, "suicide_plan")
        # A plan counts within the window (the C-SSRS asks about the past month), behaviour
        # for 3 months from when it was observed, however late it was reported.
        observed = data.draw(st.integers(0, 24 * (29 if kind == "plan" else 89)))
        received = data.draw(st.integers(0, observed))
        flag = ReportEvidence(
            "flag",
            "rf",
            "residence_counselor",
            frozenset({signal}),
            NOW - timedelta(hours=observed),
            NOW - timedelta(hours=received),
        )
        graded = replace(situation, reports=(*situation.reports, flag))
    else:
        number = {"q4": 4, "q5": 5, "q6": 6}[kind]
        days = 89 if kind == "q6" else 29
        hours = data.draw(st.integers(0, days * 24))
        items = [0] * 6
        items[number - 1] = 1
        sheet = ScreeningEvidence(
            "flag",
            "cssrs_screener",
            tuple(items),
            NOW - timedelta(hours=hours),
            NOW - timedelta(hours=hours),
            behavior_recency="past_3_months" if kind == "q6" else "never",
        )
        later = data.draw(
            st.lists(screenings(Instrument.CSSRS_SCREENER, max_hours=max(hours - 1, 0)), max_size=2)
        )
        graded = replace(situation, screenings=(*situation.screenings, sheet, *later))
    assert level(graded) is Level.CRITICAL


@settings(max_examples=300)
@given(situations, st.data())
def test_missing_contact_with_any_risk_sign_is_always_critical(
    situation: Situation, data: st.DataObject
) -> None:
    """DESIGN: missing contact together with any risk sign is critical, the sign a report's
    (a self-harm or suicide signal, hopelessness) or a screening's (any suicide item answered
    within its look-back, whatever later sheets say)."""
    sign = data.draw(st.sampled_from(["report", "sheet"]))
    graded = situation
    if sign == "report":
        signal = data.draw(
            st.sampled_from([*sorted(POLICY.families["suicidality"].signals), "hopelessness"])
        )
        hours = data.draw(st.integers(0, 24 * 29))
        when = NOW - timedelta(hours=hours)
        risk = ReportEvidence("risk", "r9", "floor_leader", frozenset({signal}), when, when)
        graded = replace(graded, reports=(*graded.reports, risk))
    else:
        sheet, hours = data.draw(suicide_answer())
        later = data.draw(
            st.lists(screenings(Instrument(sheet.instrument), max_hours=hours - 1), max_size=2)
        )
        graded = replace(graded, screenings=(*graded.screenings, sheet, *later))
    received = NOW - timedelta(hours=data.draw(st.integers(0, 24 * 29)))
    missing = ReportEvidence(
        "missing", "r8", "residence_counselor", frozenset({"missing_contact"}), received, received
    )
    assert level(replace(graded, reports=(*graded.reports, missing))) is Level.CRITICAL


@settings(max_examples=300)
@given(screenings(max_hours=24 * 13))
def test_a_blank_grades_as_the_scale_s_lowest_answer_would_never_lower(
    sheet: ScreeningEvidence,
) -> None:
    """Partial sheets are graded on what they do say: the answered items' total is a floor of
    the whole one, so a sheet whose blanks are not suicide items grades exactly as the same
    sheet with every blank answered at the scale's minimum (the least the student could have
    meant), no lower. A blank suicide item asks more (the next property)."""
    assume(sheet.unanswered.isdisjoint(ASKED_WHEN_BLANK[Instrument(sheet.instrument)]))
    answered = replace(sheet, unanswered=frozenset())
    assert level(Situation(now=NOW, screenings=(sheet,))) == level(
        Situation(now=NOW, screenings=(answered,))
    )


@settings(max_examples=120)
@given(screenings(max_hours=24 * 13), st.data())
def test_a_blank_suicide_item_is_asked_and_never_grades_below_answering_it_not_at_all(
    sheet: ScreeningEvidence, data: st.DataObject
) -> None:
    """A suicide item left blank is not "not at all": the sheet grades at least moderate (a
    person asks within 24 hours), never lower than the same sheet with that item answered at
    the scale's minimum, and a reason says plainly that the item was left unanswered, unless
    a graver answer of the same measure (C-SSRS Q5 beside a blank Q1) is named instead."""
    instrument = Instrument(sheet.instrument)
    assume(ASKED_WHEN_BLANK[instrument])
    number = data.draw(st.sampled_from(sorted(ASKED_WHEN_BLANK[instrument])))
    items = list(sheet.items)
    items[number - 1] = INSTRUMENTS[instrument].min_value
    answered = replace(sheet, items=tuple(items), unanswered=sheet.unanswered - {number})
    blank = replace(answered, unanswered=answered.unanswered | {number})
    result = grade(POLICY, CAMPUS, Situation(now=NOW, screenings=(blank,)))
    assert result.level >= max(Level.MODERATE, level(Situation(now=NOW, screenings=(answered,))))
    # The blank's band (the item's measure) names one rule: the blank, or a graver answer.
    asks = [
        r
        for r in POLICY.screening_rules
        if r.instrument == instrument.value
        and any(c.measure == f"unanswered:{number}" for c in r.all_of)
    ]
    (band,) = {r.effects.band for r in asks}
    (named,) = [r for r in result.reasons if BANDS.get(r.rule_id) == band]
    if named.rule_id in {r.id for r in asks}:
        assert "自杀条目未作答，须询问" in named.text.zh, named
        assert "The suicide item was left unanswered: ask" in named.text.en, named
    else:
        assert instrument is Instrument.CSSRS_SCREENER, named
        assert number in (1, 2), named


BANDS = {r.id: r.effects.band for r in POLICY.screening_rules}


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
@given(situations)
def test_corroboration_alone_never_reaches_critical(situation: Situation) -> None:
    result = grade(POLICY, CAMPUS, replace(situation, closed_cases=()))
    lifts = [r for r in result.reasons if r.rule_id == "corroboration"]
    assert all(r.level <= Level.SEVERE for r in lifts)
    if result.level is Level.CRITICAL:
        assert any(
            r.level is Level.CRITICAL and r.rule_id != "corroboration" for r in result.reasons
        )


@given(situations)
def test_every_grade_above_none_has_a_reason_at_its_level(situation: Situation) -> None:
    result = grade(POLICY, CAMPUS, situation)
    if result.level > Level.NONE:
        assert result.reasons[0].level == result.level
    else:
        assert result.reasons == ()


@settings(max_examples=200)
@given(situations)
def test_a_band_names_only_its_highest_rule(situation: Situation) -> None:
    bands: dict[str, list[str]] = {}
    for rule in (*POLICY.signal_rules, *POLICY.screening_rules):
        if rule.effects.band:
            bands.setdefault(rule.effects.band, []).append(rule.id)
    fired = [r.rule_id for r in grade(POLICY, CAMPUS, situation).reasons]
    for members in bands.values():
        assert len([r for r in fired if r in members]) <= 1
