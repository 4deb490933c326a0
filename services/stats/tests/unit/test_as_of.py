"""Threat: a total of the year in progress, asked daily, tells each day's events
(docs/security/routes.md, stats). Between two days a college's count grows by one; when the
new event fell in one grade, the reader learns it, whatever each day's small cells hide.

The year in progress is published as of the end of its last complete month
(`periods.as_published`): every day of a month answers the same, and a month's events appear
at once when it closes, under the usual small-cell rules. A closed year is published whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from shouwang_contracts.auth import Principal
from shouwang_contracts.vocabulary import Role
from shouwang_stats.adapters.figures import Dimension, Family, Window
from shouwang_stats.domain.linked import ALL, Unit
from shouwang_stats.domain.periods import Month, Period, as_published
from shouwang_stats.domain.scope import Scope
from shouwang_stats.domain.suppression import Count, Hidden, Key
from shouwang_stats.service_layer import published
from shouwang_stats.service_layer.access import READERS, reads_live

TZ = "Asia/Shanghai"
ZONE = ZoneInfo(TZ)
K = Scope(("K",))
YEAR = Period.year(2026)


@dataclass(frozen=True)
class Case:
    college: str
    grade: str
    opened: datetime
    student: str


def month_of_cases(month: int, per_cell: dict[tuple[str, str], int]) -> list[Case]:
    return [
        Case(
            college, grade, datetime(2026, month, 10, 9, tzinfo=ZONE), f"{college}{grade}{month}{i}"
        )
        for (college, grade), n in per_cell.items()
        for i in range(n)
    ]


# January to October: every cell of college A, B and C at five or more; C's severe at 6.
BEFORE = [
    case
    for month in range(1, 11)
    for case in month_of_cases(
        month, {(x, g): 1 for x in "ABC" for g in ("severe", "moderate", "mild")}
    )
]
# 12 November: one severe event at college C (the day's event a daily reader would learn)
# and two mild at college D (a new small cell when November closes).
NOVEMBER = [
    Case("C", "severe", datetime(2026, 11, 12, 9, tzinfo=ZONE), "C-nov"),
    Case("D", "mild", datetime(2026, 11, 12, 10, tzinfo=ZONE), "D-nov-1"),
    Case("D", "mild", datetime(2026, 11, 12, 11, tzinfo=ZONE), "D-nov-2"),
]


@dataclass
class Source:
    """Cases of one campus "K", counted in the window asked (as the SQL counts them), and
    the cells its years hid, kept in memory."""

    cases: list[Case]
    kept: dict[tuple[int, str], frozenset[Key]] = field(default_factory=dict)

    def _in(self, window: Window) -> list[Case]:
        return [c for c in self.cases if window.start <= c.opened < window.end]

    async def spine(
        self, family: Family, window: Window, now: datetime
    ) -> dict[tuple[Unit, str | None], Count]:
        groups: dict[tuple[Unit, str | None], set[str]] = {}
        events: dict[tuple[Unit, str | None], int] = {}
        for case in self._in(window) if family == "found" else []:
            for unit in (("K", case.college), ("K", None), ALL):
                for col in (case.grade, None):
                    groups.setdefault((unit, col), set()).add(case.student)
                    events[(unit, col)] = events.get((unit, col), 0) + 1
        return {key: Count(events[key], len(students)) for key, students in groups.items()}

    async def found(
        self, scope: Scope, window: Window, by: Dimension
    ) -> dict[tuple[str | None, str | None], Count]:
        assert by == "month"
        groups: dict[tuple[str | None, str | None], list[str]] = {}
        for case in self._in(window):
            month = str(Month.of(case.opened, ZONE))
            for key in ((month, case.grade), (month, None), (None, case.grade), (None, None)):
                groups.setdefault(key, []).append(case.student)
        return {key: Count(len(refs), len(set(refs))) for key, refs in groups.items()}

    async def campuses(self) -> list[str]:
        return ["K"]

    async def hidden_before(self, year: int, family: str) -> frozenset[Key]:
        return self.kept.get((year, family), frozenset())

    async def remember_hidden(
        self, year: int, family: str, seen: frozenset[Key], cells: frozenset[Key]
    ) -> frozenset[Key] | None:
        self.kept[(year, family)] = seen | cells
        return None


async def answers(source: Source, day: datetime) -> tuple[object, ...]:
    """What a counselling centre reads on `day`: the annual table by college and events
    found by month."""
    period = as_published(YEAR, day, ZONE)
    annual = await published.annual(source, K, period, "college", TZ, day)
    by_month = await published.events_found(source, K, period, "month", TZ, day)
    return period.as_of(), annual.found, annual.relieved, by_month.table


async def test_a_total_asked_daily_does_not_tell_the_days_events() -> None:
    source = Source(list(BEFORE))
    tenth = await answers(source, datetime(2026, 11, 10, 12, tzinfo=ZONE))
    source.cases += NOVEMBER
    twentieth = await answers(source, datetime(2026, 11, 20, 12, tzinfo=ZONE))
    assert tenth == twentieth
    as_of, found, _, by_month = twentieth
    assert as_of == date(2026, 10, 31)
    assert found.cells[("C", "severe")].value == 10  # the 12th's severe event not yet in
    assert "D" not in found.rows
    assert by_month.rows == tuple(f"2026-{m:02d}" for m in range(1, 11))


async def test_a_month_closing_reveals_its_events_at_once_under_small_cell_rules() -> None:
    source = Source(BEFORE + NOVEMBER)
    await answers(source, datetime(2026, 11, 20, 12, tzinfo=ZONE))
    second = await answers(source, datetime(2026, 12, 2, 12, tzinfo=ZONE))
    as_of, found, _, by_month = second
    assert as_of == date(2026, 11, 30)
    assert found.cells[("C", "severe")].value == 11
    assert found.total.value == 93  # 90 to October, November's three at once
    assert found.cells[("D", "mild")].hidden is Hidden.SMALL
    assert found.cells[("D", "mild")].display() == "<5"
    assert by_month.rows[-1] == "2026-11"
    assert by_month.row_totals["2026-11"].hidden is not None  # three students: hidden too
    # Every later day of December answers as the 2nd did.
    assert await answers(source, datetime(2026, 12, 31, 23, tzinfo=ZONE)) == second


def test_a_closed_year_is_published_whole() -> None:
    closed = as_published(Period.year(2025), datetime(2026, 12, 8, tzinfo=UTC), ZONE)
    assert closed == Period.year(2025)
    assert closed.as_of() == date(2025, 12, 31)
    assert len(list(closed.months())) == 12


def test_a_year_in_its_first_month_counts_no_month_yet() -> None:
    january = as_published(YEAR, datetime(2026, 1, 20, tzinfo=UTC), ZONE)
    assert list(january.months()) == []
    start, end = january.bounds(ZONE)
    assert start == end
    assert january.as_of() == date(2025, 12, 31)
    assert str(january) == "2026"


def test_a_month_closes_at_midnight_on_the_campus_clock() -> None:
    # 17:00 UTC on 30 November is 01:00 on 1 December in Shanghai: November has closed.
    there = as_published(YEAR, datetime(2026, 11, 30, 17, tzinfo=UTC), ZONE)
    assert there.as_of() == date(2026, 11, 30)
    assert there.bounds(ZONE)[1] == datetime(2026, 12, 1, tzinfo=ZONE)


async def test_the_counseling_center_reads_the_year_in_progress_as_it_stands() -> None:
    """The center reads every case of its campus in casework, so a daily difference tells it
    nothing new; it reads the year live, under the same small-cell rules."""
    source = Source(BEFORE + NOVEMBER)
    day = datetime(2026, 11, 20, 12, tzinfo=ZONE)
    period = as_published(YEAR, day, ZONE, live=True)
    assert period.as_of() == date(2026, 11, 20)
    annual = await published.annual(source, K, period, "college", TZ, day)
    assert annual.found.cells[("C", "severe")].value == 11  # the 12th's event is in
    assert annual.found.cells[("D", "mild")].display() == "<5"
    # A closed year is the same whole year to every reader.
    assert as_published(Period.year(2025), day, ZONE, live=True) == Period.year(2025)


def test_only_the_counseling_center_reads_live() -> None:
    live = {r for r in READERS if reads_live(Principal(sub="s", role=r, campus_id="K"))}
    assert live == {Role.COUNSELING_CENTER}
