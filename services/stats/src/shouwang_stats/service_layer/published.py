"""Every answer a projection of one decision per figure (domain/linked.py).

The annual table and the breakdowns by college or campus are read from the year's spine;
the other breakdowns are campus answers whose margins the spine fixes, added up for wider
scopes; a college's own breakdowns are withheld.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, Protocol, TypeVar, cast

from ..adapters.figures import Dimension, Family, Window
from ..domain.annual import AnnualTable
from ..domain.figures import BUCKETS, UNKNOWN
from ..domain.linked import ALL, Cell, Spine, Unit, decide, sum_cross, sum_list
from ..domain.periods import Period
from ..domain.scope import Scope
from ..domain.suppression import THRESHOLD, Count, Key
from . import reports
from .kept import HiddenStore, kept
from .reports import Cross, Listed, Pins, window

T = TypeVar("T")


class SpineSource(reports.FigureSource, HiddenStore, Protocol):
    """The figure source, with the counts every unit's figures are decided from."""

    async def spine(
        self, family: Family, window: Window, now: datetime
    ) -> dict[tuple[Unit, str | None], Count]: ...

    async def campuses(self) -> list[str]: ...


class Withheld(Exception):
    """A breakdown asked for one college (or several): only campuses' are published."""


_COLS: Mapping[Family, tuple[str, ...]] = {
    "found": tuple(b.value for b in BUCKETS),
    "relieved": (),
    "breaches": (),
}


async def spine(
    source: SpineSource,
    family: Family,
    period: Period,
    tz: str,
    now: datetime,
    threshold: int = THRESHOLD,
) -> Spine:
    """The year's figures of `family` for every unit, decided at once, hiding again every
    cell the year has hidden before; the cells it hides are kept before it is answered."""
    counts = await source.spine(family, window(period, tz), now)

    def decided(forced: frozenset[Key]) -> Spine:
        return decide(counts, _COLS[family], threshold, cast("frozenset[Cell]", forced))

    return await kept(source, period.first.year, family, decided, Spine.hidden)


def parts(scope: Scope, campuses: list[str]) -> list[Unit]:
    """The units whose sum is `scope`'s figure."""
    if scope.colleges is None:
        return [ALL] if scope.campuses is None else [(c, None) for c in scope.campuses]
    return [(c, x) for c in scope.campuses or campuses for x in scope.colleges]


def rows_by(
    by: Dimension, scope: Scope, spines: list[Spine]
) -> tuple[list[tuple[str, list[Unit]]], list[Unit]]:
    """The rows (a label and the units it adds up) and the total of a table by `by`."""
    campuses = sorted({c for s in spines for c in s.campuses()})
    total = parts(scope, campuses)
    if by == "none":
        return [("", total)], total
    within = scope.campuses or tuple(campuses)
    if by == "campus":
        return [
            (c, [u for u in total if u[0] == c] if scope.colleges else [(c, None)]) for c in within
        ], total
    names = (
        set(scope.colleges)
        if scope.colleges is not None
        else {x for s in spines for c in within for x in s.colleges(c)}
    )
    ordered = sorted(names, key=lambda x: (x in ("", UNKNOWN), x))
    return [(x, [(c, x) for c in within]) for x in ordered], total


async def annual(
    source: SpineSource,
    scope: Scope,
    period: Period,
    by: Dimension,
    tz: str,
    now: datetime,
    threshold: int = THRESHOLD,
) -> AnnualTable:
    """The seed's table for any scope and grouping: a projection of the year's spine."""
    found = await spine(source, "found", period, tz, now, threshold)
    relieved = await spine(source, "relieved", period, tz, now, threshold)
    rows, total = rows_by(by, scope, [found, relieved])
    return AnnualTable(
        period=period,
        groups=tuple(label for label, _ in rows),
        found=found.cross(rows, total),
        relieved=relieved.listed(rows, total),
    )


async def events_found(
    source: SpineSource,
    scope: Scope,
    period: Period,
    by: Dimension,
    tz: str,
    now: datetime,
    threshold: int = THRESHOLD,
) -> Cross:
    """Events found by `by` × grade: by college or campus from the spine, else a breakdown."""
    if by in ("none", "college", "campus"):
        found = await spine(source, "found", period, tz, now, threshold)
        rows, total = rows_by(by, scope, [found])
        return Cross(by, "grade", found.cross(rows, total))

    async def run(within: Scope, pins: Pins) -> Cross:
        return await reports.events_found(source, within, period, by, tz, threshold, pins)

    return await breakdown(source, scope, period, tz, now, threshold, run)


async def breakdown(
    source: SpineSource,
    scope: Scope,
    period: Period | None,
    tz: str,
    now: datetime,
    threshold: int,
    run: Callable[[Scope, Pins], Awaitable[T]],
) -> T:
    """A breakdown for `scope`: one campus's, suppressed with the spine's margins fixed, or
    the sum of every campus's for a wider scope (percentiles over the whole scope)."""
    if scope.colleges is not None:
        raise Withheld
    if scope.campuses is not None and len(scope.campuses) == 1:
        return await run(scope, await pins(source, scope.campuses[0], period, tz, now, threshold))
    campuses = list(scope.campuses) if scope.campuses else await source.campuses()
    whole = await run(scope, await scope_pins(source, scope, campuses, period, tz, now, threshold))
    each = [
        await run(Scope((c,)), await pins(source, c, period, tz, now, threshold)) for c in campuses
    ]
    added: T = _added(whole, each)
    return added


async def pins(
    source: SpineSource, campus: str, period: Period | None, tz: str, now: datetime, threshold: int
) -> Pins:
    """The campus's margins as the year's spine decided them (none for figures of now)."""
    if period is None:
        return Pins()
    unit: Unit = (campus, None)
    found = await spine(source, "found", period, tz, now, threshold)
    relieved = await spine(source, "relieved", period, tz, now, threshold)
    breaches = await spine(source, "breaches", period, tz, now, threshold)
    return Pins(
        found=found.fixed_cross(unit),
        relieved=relieved.fixed_list(unit),
        breaches=breaches.fixed_list(unit),
    )


async def scope_pins(
    source: SpineSource,
    scope: Scope,
    campuses: list[str],
    period: Period | None,
    tz: str,
    now: datetime,
    threshold: int,
) -> Pins:
    """A wider scope's own margin, for what is counted over the whole scope (its cycle
    times' case counts): its events found as the spine shows their sum, hidden if any
    campus's is (else a count of cases could bound a total hidden there). Its tables are
    the campuses' added up (`_added`), so they need no margins."""
    if period is None:
        return Pins()
    found = await spine(source, "found", period, tz, now, threshold)
    return Pins(found={("all",): found.total(parts(scope, campuses)).hidden})


def _added(whole: Any, each: list[Any]) -> Any:
    """`whole` with every published table replaced by the sum of the campuses' tables."""
    if isinstance(whole, Cross):
        return Cross(whole.rows_are, whole.cols_are, sum_cross([e.table for e in each]))
    if isinstance(whole, Listed):
        return Listed(whole.rows_are, sum_list([e.table for e in each]))
    if dataclasses.is_dataclass(whole) and not isinstance(whole, type):
        return dataclasses.replace(
            whole,
            **{
                f.name: _added(getattr(whole, f.name), [getattr(e, f.name) for e in each])
                for f in dataclasses.fields(whole)
                if isinstance(getattr(whole, f.name), (Cross, Listed))
                or dataclasses.is_dataclass(getattr(whole, f.name))
            },
        )
    return whole
