"""Threat: two breakdowns of one campus, each protecting the grade totals the spine hid,
combined to reveal a small cell (docs/security/routes.md, stats).

A small campus: the spine hid its severe, moderate and mild totals and its total (36 events;
15, 12 and 9). Events found by source (two sources) and by month (three months) share those
four margins. Each table alone keeps every hidden margin and small cell from being worked
out. But decided one by one, the table by source told `moderate + mild = 21` (its second
source's row: 9 severe shown, the row's 19 shown, its moderate 6 and mild 4 hidden; its first
source's moderate 6 and mild 5 shown), and the table by month gave `moderate + mild = 20 +
February's mild`: together, February's mild is 1, a single student.

Now a table tells no relation between the hidden margins beyond the sum the spine publishes
itself (the grades add up to the total), and keeps its small cells hidden even were the
margins known (`suppression._relates`, `_exposed`); so any number of breakdowns checked as
one system, with the spine's line, reveal nothing.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from shouwang_stats.domain.suppression import Count, Hidden, Key, Line, determined
from shouwang_stats.domain.tables import CrossTable, Fixed, cross_from_rows

GRADES = ("severe", "moderate", "mild")
ALL_HIDDEN: Fixed = {
    **{("col", g): Hidden.COMPLEMENTARY for g in GRADES},
    ("all",): Hidden.COMPLEMENTARY,
}
BY_SOURCE = {"counseling_center": (6, 6, 5), "screening": (9, 6, 4)}
BY_MONTH = {"2026-01": (6, 2, 3), "2026-02": (4, 5, 1), "2026-03": (5, 5, 5)}
SMALL = ("month", "cell", "2026-02", "mild")


def table(rows: dict[str, tuple[int, ...]]) -> CrossTable:
    counts: dict[tuple[str | None, str | None], int] = {}
    for row, values in rows.items():
        for grade, n in zip(GRADES, values, strict=True):
            for key in ((row, grade), (row, None), (None, grade), (None, None)):
                counts[key] = counts.get(key, 0) + n
    return cross_from_rows(list(rows), GRADES, {k: Count(v, v) for k, v in counts.items()})


def named(name: str, key: Key) -> Key:
    """A table's own figures by its name; the margins are the campus's, shared by both."""
    assert isinstance(key, tuple)
    return (name, *key) if key[0] in ("cell", "row") else key


def worked_out(tables: dict[str, CrossTable], pins: Fixed) -> list[Key]:
    """Protected figures (small cells, the hidden margins) that follow from every figure the
    tables show, their sums, and the spine's own line (the grades add up to the total)."""
    hidden: dict[Key, Hidden] = {}
    protected: set[Key] = set()
    lines = [Line(tuple(("col", g) for g in GRADES), ("all",))]
    for name, t in tables.items():
        published = t.publish(fixed=pins)
        for key in published.hidden():
            entry = t.entries()[key]
            hidden[named(name, key)] = Hidden.COMPLEMENTARY
            if 0 < entry.students < 5 or pins.get(key) is not None:
                protected.add(named(name, key))
        lines += [
            Line(tuple(named(name, m) for m in line.members), named(name, line.total))
            for line in t.lines()
        ]
    return [key for key in determined(hidden, lines) if key in protected]


def test_two_breakdowns_of_one_campus_together_do_not_reveal_a_small_cell() -> None:
    tables = {"source": table(BY_SOURCE), "month": table(BY_MONTH)}
    assert SMALL not in worked_out(tables, ALL_HIDDEN)
    assert worked_out(tables, ALL_HIDDEN) == []
    # Each table alone still publishes what it can: the figures of five or more that cover
    # nothing (March, every grade).
    month = tables["month"].publish(fixed=ALL_HIDDEN)
    assert month.row_totals["2026-03"].value == 15


def test_a_breakdown_tells_no_relation_between_the_hidden_grade_totals() -> None:
    source = table(BY_SOURCE).publish(fixed=ALL_HIDDEN)
    hidden: dict[Key, Hidden] = {k: Hidden.COMPLEMENTARY for k in source.hidden()}
    lines = table(BY_SOURCE).lines()
    # moderate + mild, as the relation the attack used: a sum of margins only, added to the
    # system as a figure of its own; it follows only if the table tells it.
    probe: Key = ("probe",)
    lines_with_probe = [*lines, Line((("col", "moderate"), ("col", "mild")), probe)]
    assert probe not in determined({**hidden, probe: Hidden.COMPLEMENTARY}, lines_with_probe)


# Two breakdowns of one campus: 1–4 rows each, three grades, with the same grade totals.
def _split(total: int, parts: int) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(0, parts - 1), min_size=total, max_size=total).map(
        lambda picks: [picks.count(i) for i in range(parts)]
    )


breakdowns = st.tuples(
    st.lists(st.sampled_from([1, 3, 5, 6, 8, 12]), min_size=3, max_size=3),
    st.integers(1, 4),
    st.integers(1, 4),
    st.lists(st.booleans(), min_size=4, max_size=4),
).flatmap(
    lambda spec: st.tuples(
        st.tuples(*(_split(n, spec[1]) for n in spec[0])),
        st.tuples(*(_split(n, spec[2]) for n in spec[0])),
        st.just(spec[3]),
    )
)


@settings(max_examples=120, deadline=None, derandomize=True)
@given(spec=breakdowns)
def test_breakdowns_sharing_hidden_margins_reveal_nothing_together(
    spec: tuple[tuple[list[int], ...], tuple[list[int], ...], list[bool]],
) -> None:
    first, second, hide = spec
    pins: Fixed = {
        **{
            ("col", g): Hidden.COMPLEMENTARY if h else None
            for g, h in zip(GRADES, hide, strict=False)
        },
        ("all",): Hidden.COMPLEMENTARY if hide[3] else None,
    }
    margins = [sum(column) for column in first]
    # Pins as a spine decides them: a margin of fewer than five is hidden, and no hidden one
    # follows from the spine's line alone.
    if any(0 < m < 5 and pins[("col", g)] is None for g, m in zip(GRADES, margins, strict=True)):
        return
    spine_hidden = {k: Hidden.COMPLEMENTARY for k, why in pins.items() if why is not None}
    if not spine_hidden or determined(
        spine_hidden, [Line(tuple(("col", g) for g in GRADES), ("all",))]
    ):
        return

    def rows(columns: tuple[list[int], ...]) -> dict[str, tuple[int, ...]]:
        return {f"r{i}": tuple(c[i] for c in columns) for i in range(len(columns[0]))}

    tables = {"a": table(rows(first)), "b": table(rows(second))}
    assert worked_out(tables, pins) == []
