"""Small cells hidden across answers (domain/linked.py, periods.calendar_year): worked examples."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from shouwang_stats.domain.linked import ALL, Unit, combined, decide, sum_cross
from shouwang_stats.domain.periods import Period, PeriodError, calendar_year
from shouwang_stats.domain.scope import Scope
from shouwang_stats.domain.suppression import Count, Hidden, Key, Line, Shown, determined
from shouwang_stats.domain.tables import CrossTable
from shouwang_stats.service_layer import published
from stats_fakes import NothingHiddenYet

GRADES = ("severe", "moderate", "mild")
# One campus "K" of three colleges; one student per event. College C had two severe events.
CELLS = {
    "A": {"severe": 10, "moderate": 10, "mild": 10},
    "B": {"severe": 0, "moderate": 6, "mild": 6},
    "C": {"severe": 2, "moderate": 5, "mild": 5},
}


def counts(cells: dict[str, dict[str, int]]) -> dict[tuple[Unit, str | None], Count]:
    found: dict[tuple[Unit, str | None], Count] = {}

    def add(unit: Unit, col: str | None, n: int) -> None:
        before = found.get((unit, col), Count(0, 0)).value
        found[(unit, col)] = Count(before + n, before + n)

    for college, row in cells.items():
        for grade, n in row.items():
            for unit in (("K", college), ("K", None), ALL):
                add(unit, grade, n)
                add(unit, None, n)
    return found


def test_the_worked_example_a_small_college_is_hidden_in_every_answer() -> None:
    """C's 2 severe events are “<5”. A's 10 are hidden too (else campus 12 − A 10 − B 0 = 2),
    in the table by college and in A's own answer alike, since both read the one decision."""
    spine = decide(counts(CELLS), GRADES)
    assert spine.get(("K", "C"), "severe").hidden is Hidden.SMALL
    assert spine.get(("K", "A"), "severe").hidden is Hidden.COMPLEMENTARY
    assert spine.get(("K", None)) == Shown(54)  # the campus's year stays exact
    by_college = spine.cross([(x, [("K", x)]) for x in CELLS], [("K", None)])
    a_alone = spine.cross([("", [("K", "A")])], [("K", "A")])
    assert by_college.cells[("A", "severe")] == a_alone.cells[("", "severe")]
    assert a_alone.cells[("", "severe")].value is None


def test_no_small_cell_follows_from_the_whole_hierarchy() -> None:
    spine = decide(counts(CELLS), GRADES)
    hidden: dict[Key, Hidden] = {k: v.hidden for k, v in spine.shown.items() if v.hidden}
    units: list[Unit] = [("K", "A"), ("K", "B"), ("K", "C"), ("K", None), ALL]
    lines = [Line(tuple((u, g) for g in GRADES), (u, None)) for u in units]
    for col in (*GRADES, None):
        lines.append(Line(tuple((("K", x), col) for x in CELLS), (("K", None), col)))
        lines.append(Line(((("K", None), col),), (ALL, col)))
    assert not [k for k in determined(hidden, lines) if hidden[k] is Hidden.SMALL]


def test_three_cells_under_five_that_sum_to_twelve_hide_the_twelve() -> None:
    """4+4+4: beside three “<5” cells, a total of 12 gives each away as exactly 4."""
    cells = {x: {"severe": 0, "moderate": 4, "mild": 20} for x in ("A", "B", "C")}
    spine = decide(counts(cells), GRADES)
    assert spine.get(("K", None), "moderate").hidden is not None
    assert spine.get(("K", None)) == Shown(72)  # mild goes with it: 72 − 60 would be 12


def test_a_breakdown_keeps_the_margins_the_spine_decided_and_protects_the_hidden_ones() -> None:
    """The year by month, its column totals fixed: the campus's severe total is shown (12), so
    April's 2 must be covered inside the column, and a total the spine hid stays hidden and
    cannot be added up from the months."""
    months = ("01", "02", "04")
    cells = {("01", "severe"): 5, ("02", "severe"): 5, ("04", "severe"): 2, ("01", "mild"): 9}
    table = CrossTable(
        rows=months,
        cols=("severe", "mild"),
        cells={k: Count(v, v) for k, v in cells.items()},
        row_totals={"01": Count(14, 14), "02": Count(5, 5), "04": Count(2, 2)},
        col_totals={"severe": Count(12, 12), "mild": Count(9, 9)},
        total=Count(21, 21),
    )
    published = table.publish(
        fixed={("col", "severe"): None, ("col", "mild"): Hidden.COMPLEMENTARY, ("all",): None}
    )
    assert published.col_totals["severe"] == Shown(12)
    assert published.total == Shown(21)
    assert published.cells[("04", "severe")].hidden is Hidden.SMALL
    assert published.col_totals["mild"].hidden is Hidden.COMPLEMENTARY
    assert published.cells[("01", "mild")].value is None  # else the hidden total is 9
    shown = [c for c in published.cells.values() if c.hidden is None]
    assert sum(c.value or 0 for c in shown) < 12  # April is not 12 minus the rest


def test_a_sum_of_answers_is_shown_only_if_every_part_is() -> None:
    assert combined([Shown(5), Shown(7)]) == Shown(12)
    assert combined([Shown(5), Shown(None, Hidden.SMALL)]).hidden is Hidden.COMPLEMENTARY
    spine = decide(counts(CELLS), GRADES)
    two = spine.cross([("", [("K", "A"), ("K", "C")])], [("K", "A"), ("K", "C")])
    assert two.cells[("", "severe")].value is None  # A+C would be 12 − B


def test_campus_tables_add_up_cell_by_cell() -> None:
    one = CrossTable(("x",), ("c",), {("x", "c"): Count(6, 6)}, {}, {}, Count(6, 6)).publish()
    two = CrossTable(("y",), ("c",), {("y", "c"): Count(7, 7)}, {}, {}, Count(7, 7)).publish()
    total = sum_cross([one, two])
    assert total.rows == ("x", "y")
    assert total.total == Shown(13)


@pytest.mark.parametrize(
    ("start", "end"), [("2026-01", "2026-03"), ("2026-04", "2026-04"), ("2025-09", "2026-08")]
)
def test_only_whole_calendar_years_are_answered(start: str, end: str) -> None:
    with pytest.raises(PeriodError) as refused:
        calendar_year(Period.parse(start, end))
    assert refused.value.code == "period_not_fixed"


def test_a_year_however_written_is_the_year() -> None:
    for start, end in (("2026", None), ("2026", "2026"), ("2026-01", "2026-12")):
        assert calendar_year(Period.parse(start, end)) == Period.year(2026)


class _Spines(NothingHiddenYet):
    """A figure source holding the worked example's counts (published.py reads only these for
    the annual table; a breakdown for a college never reaches the store)."""

    async def spine(self, family: str, window: object, now: object) -> dict[Key, Count]:
        return dict(counts(CELLS)) if family == "found" else {}  # type: ignore[arg-type]

    async def campuses(self) -> list[str]:
        return ["K"]


async def test_every_scope_reads_its_annual_row_from_the_one_decision() -> None:
    source: Any = _Spines()
    now = datetime(2026, 1, 1, tzinfo=UTC)
    year = Period.year(2025)
    campus = await published.annual(source, Scope(("K",)), year, "college", "UTC", now)
    for college in CELLS:
        alone = await published.annual(source, Scope(("K",), (college,)), year, "none", "UTC", now)
        assert alone.found.cells[("", "severe")] == campus.found.cells[(college, "severe")]
    both = await published.annual(source, Scope(("K",), ("A", "B")), year, "none", "UTC", now)
    assert both.found.cells[("", "severe")].value is None  # A's is hidden, so A+B is too
    every = await published.annual(source, Scope(None), year, "campus", "UTC", now)
    assert every.found.total == campus.found.total == Shown(54)


async def test_a_colleges_breakdown_is_withheld_before_anything_is_read() -> None:
    async def run(scope: Scope, pins: object) -> None:
        raise AssertionError("read")

    with pytest.raises(published.Withheld):
        await published.breakdown(
            _Spines(),  # type: ignore[arg-type]
            Scope(("K",), ("C",)),
            Period.year(2025),
            "UTC",
            datetime(2026, 1, 1, tzinfo=UTC),
            5,
            run,
        )
