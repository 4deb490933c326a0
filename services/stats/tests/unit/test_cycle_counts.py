"""The case counts beside cycle times are figures like any other: suppressed the same way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shouwang_stats.domain.cycles import cycle_times
from shouwang_stats.domain.figures import Milestone, Timeline
from shouwang_stats.domain.linked import ALL
from shouwang_stats.domain.periods import Period
from shouwang_stats.domain.scope import Scope
from shouwang_stats.domain.suppression import Count, Hidden, Key
from shouwang_stats.entrypoints import schemas
from shouwang_stats.service_layer import published as published_layer
from shouwang_stats.service_layer import reports
from stats_fakes import NothingHiddenYet

START = datetime(2025, 3, 2, 9, tzinfo=UTC)


def referred(student: str, hours: int) -> Timeline:
    """A case graded, acknowledged, intervened and referred, the referral answered."""
    return Timeline(
        student,
        {
            Milestone.REPORTED: START,
            Milestone.GRADED: START + timedelta(minutes=5),
            Milestone.ACKNOWLEDGED: START + timedelta(minutes=30),
            Milestone.INTERVENED: START + timedelta(hours=2),
            Milestone.REFERRAL_ANSWERED: START + timedelta(hours=2 + hours),
        },
    )


def published(timelines: list[Timeline], found_total: Hidden | None = None) -> dict[str, object]:
    times = cycle_times(timelines, 5)
    if found_total is not None:
        times = reports.CycleTimes(times.legs, times.since_report, found_total)
    out = schemas.cycle_times(times, Period.year(2025), Scope(("north",)), "zh-CN", 5)
    return {leg.id: leg.count for leg in out.legs} | {
        m.milestone: m.count for m in out.since_report
    }


def test_a_cycle_time_of_few_cases_does_not_show_how_few() -> None:
    # Two students of a college took a referral: their percentiles were withheld, but the
    # count beside them said "2".
    counts = published([referred("s1", 20), referred("s2", 30)])
    answered = counts["intervened__referral_answered"]
    assert isinstance(answered, schemas.CellOut)
    assert (answered.value, answered.display, answered.hidden) == (None, "<5", "small")
    closed = counts["closed"]
    assert isinstance(closed, schemas.CellOut)
    assert (closed.value, closed.display) == (0, "0")  # none reached it: zeros are shown


def test_one_student_many_cases_is_still_under_five() -> None:
    counts = published([referred("s1", h) for h in range(1, 8)])
    answered = counts["intervened__referral_answered"]
    assert isinstance(answered, schemas.CellOut)
    assert answered.display == "<5"


def test_enough_students_show_their_count() -> None:
    counts = published([referred(f"s{i}", i) for i in range(6)])
    answered = counts["intervened__referral_answered"]
    assert isinstance(answered, schemas.CellOut)
    assert (answered.value, answered.display, answered.hidden) == (6, "6", None)


def test_a_cycle_count_does_not_bound_a_total_the_spine_hid() -> None:
    # Six cases measured from the report are six events found at least: beside colleges of
    # "<5" each whose total the spine hid, that bound could give them away.
    counts = published([referred(f"s{i}", i) for i in range(6)], Hidden.COMPLEMENTARY)
    graded = counts["graded"]
    assert isinstance(graded, schemas.CellOut)
    assert (graded.value, graded.display, graded.hidden) == (None, "*", "complementary")


class OneCampus:
    """A figure source with six referred cases (the rest of the protocol is not read)."""

    async def timelines(self, scope: Scope, window: object) -> list[tuple[str, str, Timeline]]:
        return [("2025-03", "north", referred(f"s{i}", i)) for i in range(6)]


async def test_a_campus_cycle_time_takes_the_spines_decision_on_its_events() -> None:
    pins = reports.Pins(found={("all",): Hidden.COMPLEMENTARY})
    times = await reports.cycles(
        OneCampus(),  # type: ignore[arg-type]
        Scope(("north",)),
        Period.year(2025),
        "Asia/Shanghai",
        5,
        pins,
    )
    assert times.found_total is Hidden.COMPLEMENTARY
    shown = await reports.cycles(
        OneCampus(),  # type: ignore[arg-type]
        Scope(("north",)),
        Period.year(2025),
        "Asia/Shanghai",
        5,
        reports.Pins(found={("all",): None}),
    )
    assert shown.found_total is None


class TwoCampuses(NothingHiddenYet):
    """Two campuses of three students' events each, cycle-timed: the whole's six events
    beside two campuses' “<5” would narrow each to 2–4, so the spine hides the six too."""

    async def timelines(self, scope: Scope, window: object) -> list[tuple[str, str, Timeline]]:
        return [
            ("2025-03", c, referred(f"{c}{i}", i)) for c in ("north", "south") for i in range(3)
        ]

    async def spine(self, family: str, window: object, now: object) -> dict[Key, Count]:
        if family != "found":
            return {}
        three, six = Count(3, 3), Count(6, 6)
        units = [("north", "A"), ("south", "B"), ("north", None), ("south", None)]
        found: dict[Key, Count] = {(u, c): three for u in units for c in ("mild", None)}
        return found | {(ALL, "mild"): six, (ALL, None): six}

    async def campuses(self) -> list[str]:
        return ["north", "south"]


async def test_an_every_campus_cycle_count_does_not_bound_a_total_the_spine_hid() -> None:
    """The scope's case counts are counted over every campus at once: six cases beside a
    total of events the spine hid for the whole would bound it as the campus's count did."""
    source: Any = TwoCampuses()

    async def run(within: Scope, pins: reports.Pins) -> reports.CycleTimes:
        return await reports.cycles(source, within, Period.year(2025), "UTC", 5, pins)

    times = await published_layer.breakdown(
        source, Scope(None), Period.year(2025), "UTC", datetime(2026, 1, 1, tzinfo=UTC), 5, run
    )
    assert times.found_total is Hidden.COMPLEMENTARY
    out = schemas.cycle_times(times, Period.year(2025), Scope(None), "zh-CN", 5)
    graded = next(m.count for m in out.since_report if m.milestone == "graded")
    assert (graded.value, graded.display) == (None, "*")  # not the six it counted
