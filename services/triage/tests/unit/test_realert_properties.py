"""Properties of the repeat-alert rule, whatever is acknowledged (hypothesis, service layer)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from shouwang_contracts.instruments import INSTRUMENTS, Instrument
from shouwang_triage.adapters.policy_file import load_policy
from shouwang_triage.domain.evidence import ReportEvidence, ScreeningEvidence, Situation
from shouwang_triage.domain.ladder import AlertAction
from shouwang_triage.domain.levels import Level
from shouwang_triage.domain.realerts import HeldAlert, red_flags_in
from shouwang_triage.service_layer.grading import GradingInput, GradingOutcome, grade_inputs

from .examples import NOW
from .fakes import FakeBatchStore
from .test_grading_properties import SIGNALS, screenings, situations

POLICY = load_policy()
KEY = ("demo", "s1")
RED_FLAG_SIGNALS = sorted(POLICY.realerts.red_flag_signals)
QUIET_SIGNALS = [s for s in SIGNALS if s not in POLICY.realerts.red_flag_signals]
# Every kind a reason can be about: bands, rules without one, the weights and the lifts.
KINDS = sorted(
    {r.effects.band or r.id for r in (*POLICY.signal_rules, *POLICY.screening_rules)}
    | {"signals.weighted", "corroboration"}
    | {"history.recent_closed_case", "history.critical_case_suicidality"}
)


@st.composite
def held_alerts(draw: st.DrawFn, everything: bool = False) -> HeldAlert:
    """Any acknowledged alert of an open case: any level, covering any kinds at any level
    (`everything`: critical, covering every kind at critical)."""
    if everything:
        level, covers = Level.CRITICAL, dict.fromkeys(KINDS, Level.CRITICAL)
    else:
        level = draw(st.sampled_from([Level.MILD, Level.MODERATE, Level.SEVERE, Level.CRITICAL]))
        covers = draw(
            st.dictionaries(st.sampled_from(KINDS), st.sampled_from(list(Level)), max_size=12)
        )
    acknowledged = NOW - timedelta(hours=draw(st.integers(1, 24 * 200)))
    return HeldAlert("held-1", level, acknowledged, "case-open", covers)


@st.composite
def red_flag_sheets(draw: st.DrawFn) -> ScreeningEvidence:
    """A sheet answering a critical suicide item, whatever else it says."""
    sheet = draw(screenings(draw(st.sampled_from([Instrument.CSSRS_SCREENER, Instrument.PHQ9]))))
    items = list(sheet.items)
    unanswered = set(sheet.unanswered)
    recency = sheet.behavior_recency
    if sheet.instrument == Instrument.CSSRS_SCREENER.value:
        item = draw(st.sampled_from([4, 5, 6]))
        items[item - 1] = 1
        unanswered.discard(item)
        recency = "past_3_months" if item == 6 else recency
    else:
        info = INSTRUMENTS[Instrument.PHQ9]
        unanswered.clear()  # a total needs every item
        items[8] = 3
        for n in range(len(items)):
            while sum(items) < 20 and items[n] < info.max_value:
                items[n] += 1
    return replace(
        sheet,
        screening_id=str(uuid.uuid4()),
        items=tuple(items),
        unanswered=frozenset(unanswered),
        behavior_recency=recency,
        administered_at=NOW,
        received_at=NOW,
    )


@st.composite
def red_flag_reports(draw: st.DrawFn) -> ReportEvidence:
    """A report naming a red-flag signal among any others, observed up to 4 months ago."""
    flag = draw(st.sampled_from(RED_FLAG_SIGNALS))
    others = draw(st.frozensets(st.sampled_from(SIGNALS), max_size=4))
    observed = NOW - timedelta(hours=draw(st.integers(0, 24 * 120)))
    reporter = draw(st.sampled_from(["r1", "r2", "r3"]))
    return ReportEvidence(
        str(uuid.uuid4()), reporter, "floor_leader", others | {flag}, observed, NOW
    )


@st.composite
def quiet_reports(draw: st.DrawFn) -> ReportEvidence:
    """A report naming no red-flag signal."""
    signals = draw(st.frozensets(st.sampled_from(QUIET_SIGNALS), min_size=1, max_size=4))
    reporter = draw(st.sampled_from(["r1", "r2", "r3"]))
    return ReportEvidence(str(uuid.uuid4()), reporter, "dorm_leader", signals, NOW, NOW)


def grade_under(
    situation: Situation,
    held: HeldAlert,
    new: ReportEvidence | ScreeningEvidence,
    everything_seen: bool,
) -> tuple[GradingOutcome, FakeBatchStore]:
    """Grade `new` for a student with `situation`'s history and `held` acknowledged (having
    rested on every earlier report and sheet when `everything_seen`)."""
    store = FakeBatchStore()
    store.evidence[KEY] = [*situation.reports, *situation.screenings]
    # Cases closed before the acknowledgement: history, not the end of the holding.
    store.closed[KEY] = tuple(
        replace(c, closed_at=min(c.closed_at, held.acknowledged_at - timedelta(days=1)))
        for c in situation.closed_cases
    )
    store.alerts[held.alert_id] = {
        "alert_id": held.alert_id,
        "campus_id": KEY[0],
        "student_ref": KEY[1],
        "level": held.level,
        "status": "acknowledged",
        "superseded_by": None,
        "covers": dict(held.covers),
        "covered_evidence": (
            {r.report_id for r in situation.reports}
            | {s.screening_id for s in situation.screenings}
            if everything_seen
            else set()
        ),
        "acknowledged_at": held.acknowledged_at,
        "case_id": held.case_id,
        "held": True,
    }
    item = GradingInput(str(uuid.uuid4()), "inputs", *KEY, None, new, "urgent")
    [outcome] = asyncio.run(grade_inputs(store, POLICY, [item], NOW))  # type: ignore[arg-type]
    return outcome, store


@settings(max_examples=300, deadline=None)
@given(
    situations,
    held_alerts(),
    st.one_of(red_flag_reports(), red_flag_sheets()),
    st.booleans(),
)
def test_a_red_flag_in_the_input_always_raises_an_alert_whatever_is_acknowledged(
    situation: Situation,
    held: HeldAlert,
    new: ReportEvidence | ScreeningEvidence,
    everything_seen: bool,
) -> None:
    assert red_flags_in(POLICY, new)
    outcome, store = grade_under(situation, held, new, everything_seen)
    assert outcome.action is AlertAction.RAISE
    [raised] = store.events("shouwang.alert.raised")
    assert raised["data"]["severity"] == outcome.level.id
    assert outcome.level >= Level.MODERATE
    reasons = store.events("shouwang.assessment.graded")[0]["data"]["reasons"]
    assert "alert.covered" not in [r["rule_id"] for r in reasons]
    # The newer alert supersedes the acknowledged one: it covers nothing more.
    assert store.alerts[held.alert_id]["superseded_by"] == raised["data"]["alert_id"]


@settings(max_examples=300, deadline=None)
@given(
    situations,
    held_alerts(everything=True),
    st.one_of(
        quiet_reports(),
        screenings(max_hours=0).map(lambda s: replace(s, screening_id=str(uuid.uuid4()))),
    ),
)
def test_an_owner_holding_everything_is_paged_again_only_for_a_red_flag(
    situation: Situation, held: HeldAlert, new: ReportEvidence | ScreeningEvidence
) -> None:
    """Whatever else arrives is graded and published, with the reason, and raises nothing."""
    outcome, store = grade_under(situation, held, new, everything_seen=True)
    if red_flags_in(POLICY, new):
        assert outcome.action is AlertAction.RAISE
        return
    assert store.events("shouwang.alert.raised") == []
    [assessment] = store.events("shouwang.assessment.graded")
    assert assessment["data"]["severity"] == outcome.level.id
    if outcome.level >= Level.MILD:
        assert outcome.action is AlertAction.COVERED
        assert assessment["data"]["reasons"][-1]["rule_id"] == "alert.covered"
