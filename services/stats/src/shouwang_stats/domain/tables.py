"""Tables of counts with their totals, published with small cells suppressed.

A `CrossTable` is rows × columns with row totals, column totals and a grand total; a
`ListTable` is one column of rows and its total. Both know the sums they publish (their
`lines`), which is what complementary suppression needs to keep small cells from being
worked out by subtraction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .suppression import THRESHOLD, Count, Hidden, Key, Line, Shown, apply, suppress_kept

#: Figures of a table already decided by another answer, by the table's keys: ("all",) the
#: grand total, ("col", c) a column total, ("row", r) a row total (None: shown there).
Fixed = Mapping[Key, Hidden | None]

ZERO = Count(0, 0)


@dataclass(frozen=True, slots=True)
class PublishedCross:
    """A cross table as published: every figure a value or the reason it is hidden."""

    rows: tuple[str, ...]
    cols: tuple[str, ...]
    cells: dict[tuple[str, str], Shown]
    row_totals: dict[str, Shown]
    col_totals: dict[str, Shown]
    total: Shown

    def hidden(self) -> frozenset[Key]:
        """The keys (`CrossTable.entries`') of every figure hidden."""
        figures: list[tuple[Key, Shown]] = [
            *((("cell", r, c), s) for (r, c), s in self.cells.items()),
            *((("row", r), s) for r, s in self.row_totals.items()),
            *((("col", c), s) for c, s in self.col_totals.items()),
            (("all",), self.total),
        ]
        return frozenset(key for key, shown in figures if shown.hidden is not None)


@dataclass(frozen=True, slots=True)
class CrossTable:
    """Counts by row and column. Totals count distinct students on their own (a student
    with cases of two severities is one student of the row), so they come from the store,
    not from adding cells."""

    rows: tuple[str, ...]
    cols: tuple[str, ...]
    cells: Mapping[tuple[str, str], Count]
    row_totals: Mapping[str, Count]
    col_totals: Mapping[str, Count]
    total: Count

    def entries(self) -> dict[Key, Count]:
        found: dict[Key, Count] = {}
        for r in self.rows:
            for c in self.cols:
                found[("cell", r, c)] = self.cells.get((r, c), ZERO)
            found[("row", r)] = self.row_totals.get(r, ZERO)
        for c in self.cols:
            found[("col", c)] = self.col_totals.get(c, ZERO)
        found[("all",)] = self.total
        return found

    def lines(self) -> list[Line]:
        lines = [Line(tuple(("cell", r, c) for c in self.cols), ("row", r)) for r in self.rows] + [
            Line(tuple(("cell", r, c) for r in self.rows), ("col", c)) for c in self.cols
        ]
        lines.append(Line(tuple(("col", c) for c in self.cols), ("all",)))
        lines.append(Line(tuple(("row", r) for r in self.rows), ("all",)))
        return lines

    def publish(
        self, threshold: int = THRESHOLD, fixed: Fixed | None = None, forced: Iterable[Key] = ()
    ) -> PublishedCross:
        """As published; `forced`: figures earlier answers hid, hidden again (by their keys)."""
        entries = self.entries()
        shown = apply(entries, suppress_kept(entries, self.lines(), threshold, fixed, forced))
        return PublishedCross(
            rows=self.rows,
            cols=self.cols,
            cells={(r, c): shown[("cell", r, c)] for r in self.rows for c in self.cols},
            row_totals={r: shown[("row", r)] for r in self.rows},
            col_totals={c: shown[("col", c)] for c in self.cols},
            total=shown[("all",)],
        )


@dataclass(frozen=True, slots=True)
class PublishedList:
    """A list table as published."""

    rows: tuple[str, ...]
    cells: dict[str, Shown]
    total: Shown

    def hidden(self) -> frozenset[Key]:
        """The keys (`ListTable.publish`'s) of every figure hidden."""
        figures = [*((("cell", r), s) for r, s in self.cells.items()), (("all",), self.total)]
        return frozenset(key for key, shown in figures if shown.hidden is not None)


@dataclass(frozen=True, slots=True)
class ListTable:
    """One count per row and the total."""

    rows: tuple[str, ...]
    cells: Mapping[str, Count]
    total: Count

    def publish(
        self, threshold: int = THRESHOLD, fixed: Fixed | None = None, forced: Iterable[Key] = ()
    ) -> PublishedList:
        """As published; `forced`: figures earlier answers hid, hidden again (by their keys)."""
        entries: dict[Key, Count] = {("cell", r): self.cells.get(r, ZERO) for r in self.rows}
        entries[("all",)] = self.total
        line = Line(tuple(("cell", r) for r in self.rows), ("all",))
        shown = apply(entries, suppress_kept(entries, [line], threshold, fixed, forced))
        return PublishedList(
            rows=self.rows,
            cells={r: shown[("cell", r)] for r in self.rows},
            total=shown[("all",)],
        )


def cross_from_rows(
    rows: Sequence[str],
    cols: Sequence[str],
    counts: Mapping[tuple[str | None, str | None], Count],
) -> CrossTable:
    """A cross table from grouped counts keyed (row, col), (row, None), (None, col) and
    (None, None) for the totals (SQL's GROUPING SETS give exactly these)."""
    return CrossTable(
        rows=tuple(rows),
        cols=tuple(cols),
        cells={(r, c): counts.get((r, c), ZERO) for r in rows for c in cols},
        row_totals={r: counts.get((r, None), ZERO) for r in rows},
        col_totals={c: counts.get((None, c), ZERO) for c in cols},
        total=counts.get((None, None), ZERO),
    )


def list_from_rows(rows: Sequence[str], counts: Mapping[str | None, Count]) -> ListTable:
    """A list table from counts keyed by row, and None for the total."""
    return ListTable(
        rows=tuple(rows),
        cells={r: counts.get(r, ZERO) for r in rows},
        total=counts.get(None, ZERO),
    )
