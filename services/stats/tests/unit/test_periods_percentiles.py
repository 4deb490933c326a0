"""Periods in campus time, and the one percentile rule every cycle time uses."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from shouwang_stats.domain.figures import LEGS, Milestone, Timeline
from shouwang_stats.domain.percentiles import percentile, summarise
from shouwang_stats.domain.periods import Month, Period, PeriodError

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_a_year_a_month_and_an_academic_year() -> None:
    assert Period.parse("2025") == Period(Month(2025, 1), Month(2025, 12))
    assert len(Period.parse("2025-03")) == 1
    academic = Period.parse("2025-09", "2026-08")
    assert [str(m) for m in academic.months()][:2] == ["2025-09", "2025-10"]
    assert len(academic) == 12
    assert str(Period.parse("2025")) == "2025"


def test_months_begin_at_midnight_on_the_campus_clock() -> None:
    start, end = Period.parse("2025").bounds(SHANGHAI)
    assert start == datetime(2024, 12, 31, 16, 0, tzinfo=UTC)
    assert end == datetime(2025, 12, 31, 16, 0, tzinfo=UTC)
    late_new_year_eve = datetime(2025, 12, 31, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai
    assert Month.of(late_new_year_eve, SHANGHAI) == Month(2025, 12)


@pytest.mark.parametrize(
    ("start", "end", "code"),
    [
        ("2025-13", None, "invalid_month"),
        ("25-01", None, "invalid_month"),
        ("2025-06", "2025-01", "invalid_period"),
        ("2000", "2020", "period_too_long"),
    ],
)
def test_bad_periods_are_refused_by_name(start: str, end: str | None, code: str) -> None:
    with pytest.raises(PeriodError) as refused:
        Period.parse(start, end)
    assert refused.value.code == code


@given(st.lists(st.floats(min_value=0, max_value=1e7), min_size=2, max_size=60))
def test_percentiles_agree_with_the_standard_librarys_inclusive_quantiles(
    values: list[float],
) -> None:
    ordered = sorted(values)
    cuts = statistics.quantiles(ordered, n=100, method="inclusive")
    for q in (0.5, 0.75, 0.9, 0.95):
        assert percentile(ordered, q) == pytest.approx(cuts[round(q * 100) - 1], rel=1e-9, abs=1e-6)


def test_the_median_of_an_even_count_is_the_mean_of_the_middle_two() -> None:
    assert percentile([1.0, 2.0, 3.0, 10.0], 0.5) == 2.5
    assert percentile([7.0], 0.9) == 7.0


def test_too_few_students_withhold_the_percentiles_and_the_count() -> None:
    few = summarise([60.0, 120.0, 180.0], students=3, threshold=5)
    assert (few.count, few.shown) == (3, False)
    assert few.counted(5).display(5) == "<5"
    many = summarise([60.0 * i for i in range(1, 11)], students=10, threshold=5)
    assert many.percentiles["p50"] == 330.0


def test_a_leg_needs_both_ends_in_order() -> None:
    t = [datetime(2025, 3, 1, h, tzinfo=UTC) for h in range(5)]
    timeline = Timeline(
        "s", {Milestone.REPORTED: t[0], Milestone.GRADED: t[1], Milestone.CLOSED: t[3]}
    )
    legs = {leg.id: timeline.leg_seconds(leg) for leg in LEGS}
    assert legs["reported__graded"] == 3600
    assert legs["graded__acknowledged"] is None
    assert legs["referral_answered__closed"] is None
    assert timeline.since_report(Milestone.CLOSED) == 3 * 3600
    backwards = Timeline("s", {Milestone.REPORTED: t[2], Milestone.GRADED: t[1]})
    assert backwards.leg_seconds(LEGS[0]) is None


def test_the_last_year_allowed_ends_like_any_other() -> None:
    period = Period.year(2999)
    assert len(list(period.months())) == 12
    with pytest.raises(PeriodError):
        Period.parse("3000")
