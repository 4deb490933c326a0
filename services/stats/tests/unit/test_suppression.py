"""Small-cell suppression: no cell of fewer than five students can be read or worked out."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st
from shouwang_stats.domain.suppression import Count, Hidden, Key, Line, Shown
from shouwang_stats.domain.tables import CrossTable, ListTable


def cross(cells: list[list[int]]) -> CrossTable:
    """A table whose values are student counts (one event per student)."""
    rows = tuple(f"r{i}" for i in range(len(cells)))
    cols = tuple(f"c{j}" for j in range(len(cells[0])))
    counts = {
        (r, c): Count(cells[i][j], cells[i][j])
        for i, r in enumerate(rows)
        for j, c in enumerate(cols)
    }
    row_totals = {r: Count(sum(cells[i]), sum(cells[i])) for i, r in enumerate(rows)}
    col_totals = {
        c: Count(sum(row[j] for row in cells), sum(row[j] for row in cells))
        for j, c in enumerate(cols)
    }
    grand = sum(map(sum, cells))
    return CrossTable(rows, cols, counts, row_totals, col_totals, Count(grand, grand))


def hidden_of(table: CrossTable) -> dict[Key, Hidden]:
    published = table.publish()
    shown: dict[Key, Shown] = {("all",): published.total}
    shown.update({("cell", r, c): v for (r, c), v in published.cells.items()})
    shown.update({("row", r): v for r, v in published.row_totals.items()})
    shown.update({("col", c): v for c, v in published.col_totals.items()})
    return {k: v.hidden for k, v in shown.items() if v.hidden is not None}


def rank(rows: list[list[Fraction]]) -> int:
    """Plain Gaussian elimination, independent of the module under test."""
    rows = [list(r) for r in rows]
    rank, cols = 0, len(rows[0]) if rows else 0
    for col in range(cols):
        pivot = next((i for i in range(rank, len(rows)) if rows[i][col] != 0), None)
        if pivot is None:
            continue
        rows[rank], rows[pivot] = rows[pivot], rows[rank]
        for i in range(len(rows)):
            if i != rank and rows[i][col] != 0:
                f = rows[i][col] / rows[rank][col]
                rows[i] = [a - f * b for a, b in zip(rows[i], rows[rank], strict=True)]
        rank += 1
    return rank


def solvable(hidden: dict[Key, Hidden], lines: list[Line], key: Key) -> bool:
    """Whether `key` follows from the visible entries: its column of the system's matrix is
    independent of the others exactly when every solution agrees on it."""
    order = list(hidden)
    matrix = []
    for line in lines:
        row = [Fraction(0)] * len(order)
        for i, k in enumerate(order):
            if k in line.members:
                row[i] += 1
            if k == line.total:
                row[i] -= 1
        matrix.append(row)
    without = [[v for i, v in enumerate(r) if order[i] != key] for r in matrix]
    return rank(matrix) > rank(without)


tables = st.integers(min_value=1, max_value=4).flatmap(
    lambda n_rows: st.integers(min_value=1, max_value=4).flatmap(
        lambda n_cols: st.lists(
            st.lists(
                st.one_of(st.integers(0, 6), st.integers(0, 40)), min_size=n_cols, max_size=n_cols
            ),
            min_size=n_rows,
            max_size=n_rows,
        )
    )
)


@settings(max_examples=400, deadline=None)
@given(cells=tables)
def test_no_small_cell_is_shown_or_can_be_worked_out_from_the_totals(
    cells: list[list[int]],
) -> None:
    table = cross(cells)
    hidden = hidden_of(table)
    entries = table.entries()
    for key, count in entries.items():
        if 0 < count.students < 5:
            assert hidden.get(key) is Hidden.SMALL, key
        elif key in hidden:
            assert hidden[key] is Hidden.COMPLEMENTARY
            assert count.value > 0
    for line in table.lines():
        in_line = [k for k in (*line.members, line.total) if k in hidden]
        assert len(in_line) != 1, f"{in_line} alone in its line"
    for key, why in hidden.items():
        if why is Hidden.SMALL:
            assert not solvable(hidden, table.lines(), key), key


def test_a_table_without_small_cells_is_published_whole() -> None:
    published = cross([[5, 12], [33, 0]]).publish()
    assert [v.value for v in published.cells.values()] == [5, 12, 33, 0]
    assert published.total == Shown(50)


def test_a_small_cell_takes_a_complement_in_its_row_and_column() -> None:
    published = cross([[3, 20, 30], [25, 40, 50]]).publish()
    assert published.cells[("r0", "c0")].display() == "<5"
    # Its row and column each lose their smallest other cell, and the rest stays readable.
    assert published.cells[("r0", "c1")].hidden is Hidden.COMPLEMENTARY
    assert published.cells[("r1", "c0")].hidden is Hidden.COMPLEMENTARY
    assert published.cells[("r1", "c1")].hidden is Hidden.COMPLEMENTARY
    assert published.cells[("r1", "c1")].display() == "*"
    assert published.total == Shown(168)
    assert published.cells[("r0", "c2")] == Shown(30)


def test_a_complement_too_small_to_cover_the_cell_brings_another() -> None:
    """`<5, *` with a total of 6: knowing the complement holds five or more, the small cell
    must be 1. So the total goes too."""
    listed = ListTable(("a", "b"), {"a": Count(1, 1), "b": Count(5, 5)}, Count(6, 6)).publish()
    assert listed.cells["a"].hidden is Hidden.SMALL
    assert listed.cells["b"].hidden is Hidden.COMPLEMENTARY
    assert listed.total.hidden is Hidden.COMPLEMENTARY


def test_zeros_are_shown_and_never_used_as_complements() -> None:
    listed = ListTable(
        ("a", "b", "c"), {"a": Count(2, 2), "b": Count(0, 0), "c": Count(9, 9)}, Count(11, 11)
    ).publish()
    assert listed.cells["b"] == Shown(0)
    assert listed.cells["c"].hidden is Hidden.COMPLEMENTARY


def test_suppression_looks_at_students_not_events() -> None:
    """Seven person-times of three students are still three students."""
    listed = ListTable(("a", "b"), {"a": Count(7, 3), "b": Count(40, 30)}, Count(47, 33)).publish()
    assert listed.cells["a"].hidden is Hidden.SMALL
