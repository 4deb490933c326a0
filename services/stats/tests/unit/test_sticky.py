"""A year's hidden cells stay hidden on every later day (domain/linked.py, "Sticky within a
year"): worked examples of the forced-hidden decision and of how the service keeps them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shouwang_stats.domain.linked import ALL, Cell, Unit, decide
from shouwang_stats.domain.periods import Period
from shouwang_stats.domain.scope import Scope
from shouwang_stats.domain.suppression import Count, Hidden, Key, Line, Shown, determined
from shouwang_stats.service_layer import published, reports

GRADES = ("severe", "moderate", "mild")
COLLEGES = ("A", "B", "C", "D")
# One campus "K", one student per event. College C's 3 severe events are the small cell.
MONDAY = {
    "A": {"severe": 6, "moderate": 5, "mild": 8},
    "B": {"severe": 5, "moderate": 12, "mild": 12},
    "C": {"severe": 3, "moderate": 10, "mild": 7},
    "D": {"severe": 5, "moderate": 12, "mild": 0},
}
# Tuesday: two mild events in college D, nothing else.
TUESDAY = {**MONDAY, "D": {**MONDAY["D"], "mild": 2}}


def counts(cells: dict[str, dict[str, int]]) -> dict[Cell, Count]:
    found: dict[Cell, int] = {}
    for college, row in cells.items():
        for grade, n in row.items():
            for unit in (("K", college), ("K", None), ALL):
                for col in (grade, None):
                    found[(unit, col)] = found.get((unit, col), 0) + n
    return {key: Count(n, n) for key, n in found.items()}


def hidden_on(cells: dict[str, dict[str, int]], forced: frozenset[Cell] = frozenset()) -> set[Key]:
    return set(decide(counts(cells), GRADES, forced=forced).hidden())


def test_decided_afresh_tuesday_shows_a_complement_monday_hid() -> None:
    """Why: D's new small cell makes the solver take A's 5 moderate instead of A's 8 mild,
    and A's 8 mild, unchanged, would be shown beside Monday's answer that hid it."""
    monday, tuesday = hidden_on(MONDAY), hidden_on(TUESDAY)
    assert (("K", "A"), "mild") in monday - tuesday


def test_a_cell_hidden_before_is_hidden_again_beside_what_the_new_counts_need() -> None:
    monday = decide(counts(MONDAY), GRADES)
    tuesday = decide(counts(TUESDAY), GRADES, forced=monday.hidden())
    assert monday.hidden() <= tuesday.hidden()
    assert tuesday.get(("K", "A"), "mild").hidden is Hidden.COMPLEMENTARY
    assert tuesday.get(("K", "D"), "mild").hidden is Hidden.SMALL
    assert tuesday.get(("K", "C"), "severe").hidden is Hidden.SMALL
    assert tuesday.get(("K", None)).value == 87  # the campus's total stays exact
    # Tuesday alone gives away none of the cells Monday hid, complements included: each
    # covered a small cell beside Monday's figures.
    units: list[Unit] = [*(("K", x) for x in COLLEGES), ("K", None), ALL]
    lines = [Line(tuple((u, g) for g in GRADES), (u, None)) for u in units]
    for col in (*GRADES, None):
        lines.append(Line(tuple((("K", x), col) for x in COLLEGES), (("K", None), col)))
        lines.append(Line(((("K", None), col),), (ALL, col)))
    hidden: dict[Key, Hidden] = {k: v.hidden for k, v in tuesday.shown.items() if v.hidden}
    assert not set(determined(hidden, lines)) & set(monday.hidden())


def test_a_small_cell_that_reached_five_stays_hidden_and_no_longer_reads_under_five() -> None:
    """Shown at 6 on Thursday, C's severe cell beside the margins' growth since Monday (3
    more severe events at the campus, all at C) would give Monday's 3 away."""
    monday = decide(counts(MONDAY), GRADES)
    grown = {**MONDAY, "C": {**MONDAY["C"], "severe": 6}}
    thursday = decide(counts(grown), GRADES, forced=monday.hidden())
    assert thursday.get(("K", "C"), "severe").hidden is Hidden.COMPLEMENTARY
    assert thursday.get(("K", "C"), "severe").display() == "*"


def test_a_college_gone_from_the_counts_keeps_its_hidden_cell_hidden() -> None:
    """A cell forced hidden whose unit has no events left is hidden, not shown as 0."""
    monday = decide(counts(MONDAY), GRADES)
    gone = {x: row for x, row in MONDAY.items() if x != "C"}
    later = decide(counts(gone), GRADES, forced=monday.hidden())
    assert later.get(("K", "C"), "severe").value is None


def test_the_same_counts_decided_again_with_their_own_cells_forced_change_nothing() -> None:
    """A closed year's counts no longer change: asked again it answers as it did."""
    for cells in (MONDAY, TUESDAY):
        first = decide(counts(cells), GRADES)
        again = decide(counts(cells), GRADES, forced=first.hidden())
        assert again.shown == first.shown


class _Store:
    """The spine's counts and a year's hidden cells as `hidden_cells` keeps them; `raced`:
    cells another replica keeps between this one's read and its write, once."""

    def __init__(self, cells: dict[str, dict[str, int]], raced: frozenset[Cell] = frozenset()):
        self.cells = cells
        self.kept: frozenset[Cell] = frozenset()
        self.raced = raced
        self.writes = 0

    async def spine(self, family: str, window: object, now: object) -> dict[Cell, Count]:
        return counts(self.cells) if family == "found" else {}

    async def campuses(self) -> list[str]:
        return ["K"]

    async def hidden_before(self, year: int, family: str) -> frozenset[Cell]:
        return self.kept if family == "found" else frozenset()

    async def remember_hidden(
        self, year: int, family: str, seen: frozenset[Cell], cells: frozenset[Cell]
    ) -> frozenset[Cell] | None:
        self.writes += 1
        if self.raced:
            self.kept, self.raced = self.kept | self.raced, frozenset()
        if seen != self.kept:
            return self.kept
        self.kept = seen | cells
        return None


async def test_each_answer_keeps_what_it_hid_and_the_next_day_hides_it_again() -> None:
    store: Any = _Store(MONDAY)
    year, now = Period.year(2026), datetime(2026, 12, 7, tzinfo=UTC)
    monday = await published.spine(store, "found", year, "UTC", now)
    assert store.kept == monday.hidden()
    await published.spine(store, "found", year, "UTC", now)
    assert store.writes == 1  # nothing new hidden, nothing written
    store.cells = TUESDAY
    tuesday = await published.spine(store, "found", year, "UTC", now)
    assert tuesday.get(("K", "A"), "mild").value is None
    assert store.kept == tuesday.hidden() > monday.hidden()


async def test_an_answer_decides_again_when_another_replica_kept_cells_meanwhile() -> None:
    other: frozenset[Cell] = frozenset({(("K", "B"), "mild")})
    store: Any = _Store(MONDAY, raced=other)
    spine = await published.spine(
        store, "found", Period.year(2026), "UTC", datetime(2026, 12, 7, tzinfo=UTC)
    )
    assert spine.get(("K", "B"), "mild").value is None
    assert store.kept == spine.hidden() >= other


class _Breakdown(_Store):
    """One campus's events found by source: the week's counts as the spine's, by row."""

    async def found(
        self, scope: object, window: object, by: object
    ) -> dict[tuple[str | None, str | None], Count]:
        return {
            (None if u[1] is None else u[1], col): count
            for (u, col), count in counts(self.cells).items()
            if u[0] == "K"
        }


def value(cells: dict[str, dict[str, int]], figure: tuple[str | None, str | None]) -> int:
    row, grade = figure
    return counts(cells).get((("K", row), grade), Count(0, 0)).value


def breakdown_lines(day: str) -> list[Line]:
    rows: list[str | None] = [*COLLEGES, None]
    lines = [Line(tuple(((r, g), day) for g in GRADES), ((r, None), day)) for r in rows]
    lines += [
        Line(tuple(((x, g), day) for x in COLLEGES), ((None, g), day)) for g in (*GRADES, None)
    ]
    return lines


async def test_a_campus_breakdown_asked_on_two_days_does_not_reveal_a_small_cell() -> None:
    """The same week as the spine's, as one campus's events found by source (rows A–D): the
    breakdown's inner cells are chosen within the spine's margins, and as afresh each day."""
    store: Any = _Breakdown(MONDAY)
    year, scope = Period.year(2026), Scope(("K",))
    shown: dict[str, dict[Key, int]] = {}
    for day, cells in (("monday", MONDAY), ("tuesday", TUESDAY)):
        store.cells = cells
        table = (await reports.events_found(store, scope, year, "source", "UTC", 5)).table
        figures: dict[Key, Shown] = {
            **{(r, c): s for (r, c), s in table.cells.items()},
            **{(r, None): s for r, s in table.row_totals.items()},
            **{(None, c): s for c, s in table.col_totals.items()},
            (None, None): table.total,
        }
        shown[day] = {f: s.value for f, s in figures.items() if s.value is not None}
    assert ("A", "mild") not in shown["tuesday"]  # hidden Monday, so hidden Tuesday too
    assert not shown["tuesday"].keys() - shown["monday"].keys()
    every = [(r, g) for r in (*COLLEGES, None) for g in (*GRADES, None)]
    unknown: dict[Key, Hidden] = {
        (f, day): Hidden.SMALL for day in shown for f in every if f not in shown[day]
    }
    lines = breakdown_lines("monday") + breakdown_lines("tuesday")
    # A figure shown on one day and not moved overnight is known on the other day too.
    lines += [
        Line(((f, "monday"),), (f, "tuesday"))
        for f in every
        if value(MONDAY, f) == value(TUESDAY, f) and any(f in shown[day] for day in shown)
    ]
    assert (("C", "severe"), "monday") not in determined(unknown, lines)


STATES = dict(zip(COLLEGES, ("open", "monitoring", "intervention", "referred"), strict=True))


class _OpenCases(_Store):
    """One campus's open cases by state (rows A–D as four states) × severity, as they stand."""

    async def open_cases(
        self, scope: object, tz: str
    ) -> dict[tuple[str | None, str | None], Count]:
        return {
            (None if u[1] is None else STATES[u[1]], col): count
            for (u, col), count in counts(self.cells).items()
            if u[0] == "K"
        }


async def test_open_cases_asked_on_two_days_keep_what_they_hid() -> None:
    """Figures of now, but the same table asked daily: kept for the year it is asked in."""
    store: Any = _OpenCases(MONDAY)
    month, scope = Period.parse("2026-12"), Scope(("K",))
    monday = (await reports.open_now(store, scope, "UTC", 5, month)).table
    store.cells = TUESDAY
    tuesday = (await reports.open_now(store, scope, "UTC", 5, month)).table
    assert monday.cells[("open", "mild")].value is None
    assert tuesday.cells[("open", "mild")].value is None  # decided afresh: shown, 8
    assert monday.hidden() <= tuesday.hidden()
