"""Small cells hidden across answers, not only within one.

One answer's suppression is not enough when a reader may ask for several: a campus's total
beside its colleges asked one by one, or a year beside its months, can be subtracted to recover
a cell that every single answer hid. So every figure has one decision, whatever answer shows
it, and every answer is a projection of those decisions:

- **Fixed cells.** Figures are published for calendar years only (`periods.calendar_year`);
  months appear only as the rows of their year's table, suppressed together with it. No
  range of months can be asked for, so no two answers overlap in part.
- **The spine.** The figures a college reports (events found by grade and their total,
  person-times relieved, deadlines missed) are decided once per year over the whole scope
  hierarchy: all campuses ⊃ each campus ⊃ its colleges (`Unit`), with every sum of that
  hierarchy as a line of one system (`decide`). The annual table for any scope, and every
  breakdown's margins, are read from it.
- **Breakdowns are campus figures.** A breakdown (by source, instrument or month; tiers;
  statuses; channels) is suppressed for one campus, with its margins fixed by the spine
  (`Spine.fixed_cross`), so a total hidden there is hidden here and protected too. Answers
  wider than a campus are sums of campus answers, and a sum is shown only when all its parts
  are (`combined`): it then follows from figures already public and tells nothing new. A
  college's own breakdowns are not published: beside the campus's breakdown they would need
  the college × breakdown × grade cube suppressed at once (measured: seconds per answer).

- **Sticky within a year.** A year's counts change as its events arrive, and a fresh decision
  may pick other complements: Monday's hidden cell shown on Tuesday, unchanged, would give
  away the small cell it covered (`test_sticky_year.py`). So the cells a year has hidden
  are kept (`service_layer/kept.py`, `adapters/hidden.py`) and every later decision of that
  year hides them again (`forced`, `suppression.suppress_kept`), protected like small cells,
  whatever the new counts need besides; a campus breakdown's tables and open cases alike.
  A cell once hidden stays hidden for the year, also a small one that has since reached
  five: its new value beside the margins' growth would tell its old one. Costs some figures
  for the rest of the year; closed years, whose counts no longer change, answer the same
  each time.

Distinct students decide what is small; they are never published. What is published (events,
person-times) adds up exactly, which is what the lines say.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .suppression import THRESHOLD, Count, Hidden, Key, Line, Shown, apply, suppress_kept
from .tables import ZERO, Fixed, PublishedCross, PublishedList

#: (campus, college): (None, None) is every campus, (campus, None) one campus, and
#: (campus, college) one of its colleges ("" for students not on the roster).
Unit = tuple[str | None, str | None]
ALL: Unit = (None, None)


def combined(parts: Sequence[Shown]) -> Shown:
    """The sum of published figures: shown only if every part is, else hidden as “*”."""
    if len(parts) == 1:
        return parts[0]
    if any(part.hidden is not None for part in parts):
        return Shown(None, Hidden.COMPLEMENTARY)
    return Shown(sum(part.value or 0 for part in parts))


@dataclass(frozen=True, slots=True)
class Spine:
    """One family of figures per unit, as published. `cols` are its columns (grades), empty
    for one figure per unit; column None is the unit's total."""

    cols: tuple[str, ...]
    shown: dict[tuple[Unit, str | None], Shown]

    def campuses(self) -> list[str]:
        return sorted({u[0] for u, _ in self.shown if u[0] is not None and u[1] is None})

    def colleges(self, campus: str) -> list[str]:
        return sorted({u[1] for u, _ in self.shown if u[0] == campus and u[1] is not None})

    def get(self, unit: Unit, col: str | None = None) -> Shown:
        return self.shown.get((unit, col), Shown(0))

    def total(self, units: Sequence[Unit], col: str | None = None) -> Shown:
        return combined([self.get(unit, col) for unit in units])

    def fixed_cross(self, unit: Unit) -> Fixed:
        """A breakdown's margins for `unit`: its column totals and its grand total."""
        fixed: dict[Key, Hidden | None] = {("col", c): self.get(unit, c).hidden for c in self.cols}
        fixed[("all",)] = self.get(unit).hidden
        return fixed

    def hidden(self) -> frozenset[tuple[Unit, str | None]]:
        """Every figure this decision hides (what the year must keep hiding)."""
        return frozenset(key for key, figure in self.shown.items() if figure.hidden is not None)

    def fixed_list(self, unit: Unit) -> Fixed:
        return {("all",): self.get(unit).hidden}

    def cross(
        self, rows: Sequence[tuple[str, Sequence[Unit]]], total: Sequence[Unit]
    ) -> PublishedCross:
        """Rows that are units (or sums of units) × the columns, and their totals."""
        return PublishedCross(
            rows=tuple(label for label, _ in rows),
            cols=self.cols,
            cells={(label, c): self.total(units, c) for label, units in rows for c in self.cols},
            row_totals={label: self.total(units) for label, units in rows},
            col_totals={c: self.total(total, c) for c in self.cols},
            total=self.total(total),
        )

    def listed(
        self, rows: Sequence[tuple[str, Sequence[Unit]]], total: Sequence[Unit]
    ) -> PublishedList:
        return PublishedList(
            rows=tuple(label for label, _ in rows),
            cells={label: self.total(units) for label, units in rows},
            total=self.total(total),
        )


Cell = tuple[Unit, str | None]

#: Spines decided lately, by their counts and forced cells: a year's figures change only with
#: new events, and one page asks for the same spine several times (a pure memo of `decide`).
_DECIDED: dict[
    tuple[frozenset[tuple[Cell, Count]], tuple[str, ...], int, frozenset[Cell]], Spine
] = {}
_DECIDED_MAX = 64


def decide(
    counts: Mapping[Cell, Count],
    cols: Sequence[str],
    threshold: int = THRESHOLD,
    forced: frozenset[Cell] = frozenset(),
) -> Spine:
    """Suppress a family's figures for every unit at once. `counts` is keyed (unit, column)
    with column None for a unit's total; a unit absent counts zero. `forced`: figures the
    year hid before, hidden again and protected (see the module's docstring)."""
    key = (frozenset(counts.items()), tuple(cols), threshold, forced)
    if key not in _DECIDED:
        if len(_DECIDED) >= _DECIDED_MAX:
            _DECIDED.pop(next(iter(_DECIDED)))
        _DECIDED[key] = _decide(counts, cols, threshold, forced)
    return _DECIDED[key]


def _decide(
    counts: Mapping[Cell, Count],
    cols: Sequence[str],
    threshold: int,
    forced: frozenset[Cell] = frozenset(),
) -> Spine:
    present = {unit for unit, _ in counts} | {unit for unit, _ in forced} | {ALL}
    campuses = sorted({u[0] for u in present if u[0] is not None})
    # In one order whatever the process (a set's order of strings changes with the hash seed):
    # the same counts must be suppressed the same way after a restart or on another replica.
    units = sorted(present | {(c, None) for c in campuses}, key=_unit_order)
    keys = [*cols, None]
    entries: dict[Key, Count] = {(u, c): counts.get((u, c), ZERO) for u in units for c in keys}
    lines: list[Line] = []
    if cols:
        lines += [Line(tuple((u, c) for c in cols), (u, None)) for u in units]
    for c in keys:
        lines.append(Line(tuple(((p, None), c) for p in campuses), (ALL, c)))
        for campus in campuses:
            colleges = sorted({u[1] for u in units if u[0] == campus and u[1] is not None})
            if colleges:
                lines.append(Line(tuple(((campus, x), c) for x in colleges), ((campus, None), c)))
    hidden = suppress_kept(entries, lines, threshold, forced=forced)
    shown = apply(entries, hidden)
    return Spine(tuple(cols), {key: figure for key, figure in shown.items()})  # type: ignore[misc]


def _unit_order(unit: Unit) -> tuple[bool, str, bool, str]:
    return (unit[0] is not None, unit[0] or "", unit[1] is not None, unit[1] or "")


def sum_cross(tables: Sequence[PublishedCross]) -> PublishedCross:
    """Campus answers added up for a wider scope, cell by cell (see `combined`)."""
    rows = _union(t.rows for t in tables)
    cols = _union(t.cols for t in tables)
    zero = Shown(0)
    return PublishedCross(
        rows=rows,
        cols=cols,
        cells={
            (r, c): combined([t.cells.get((r, c), zero) for t in tables])
            for r in rows
            for c in cols
        },
        row_totals={r: combined([t.row_totals.get(r, zero) for t in tables]) for r in rows},
        col_totals={c: combined([t.col_totals.get(c, zero) for t in tables]) for c in cols},
        total=combined([t.total for t in tables]),
    )


def sum_list(tables: Sequence[PublishedList]) -> PublishedList:
    rows = _union(t.rows for t in tables)
    zero = Shown(0)
    return PublishedList(
        rows=rows,
        cells={r: combined([t.cells.get(r, zero) for t in tables]) for r in rows},
        total=combined([t.total for t in tables]),
    )


def _union(orders: Iterable[tuple[str, ...]]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for order in orders:
        seen.update(dict.fromkeys(order))
    return tuple(seen)
