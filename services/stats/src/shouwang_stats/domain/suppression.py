"""Small-cell suppression: no published figure singles out fewer than five students.

A cell counting fewer than `THRESHOLD` students (but more than none) is hidden and shown as
“<5” (primary suppression). Hiding it is not enough when the table also shows totals: the
cell would be the total minus the rest of its row. So other cells are hidden as well
(complementary suppression, shown as “*”) until, in every row and column:

- no hidden small cell can be worked out exactly, from that line or by combining lines
  (checked by linear algebra over all the table's sums), and
- arithmetic on the line cannot narrow a hidden small cell below what “<5” already says:
  knowing that a complementary cell holds at least five, a row `<5, *, total 6` would give
  the small cell away as 1, so another cell is hidden.

Zeros are shown: that no student of a college had a severe event says nothing about a
person. Complements are taken from the smallest non-zero visible cells, so that as little as
possible is lost; totals are hidden only when a line offers nothing else.

A table that shares figures with another answer takes those figures as already decided
(`fixed`): a shared figure hidden there is hidden here and protected like a small cell (it may
not be worked out either), and one shown there is never picked as a complement here, so both
answers show the same figure the same way (`domain/linked.py`).

Several tables can share those figures (a campus's breakdowns by source, by instrument and by
month all share the grade totals and the total the spine decided). Each table protecting a
shared hidden figure on its own is not enough: one table may tell `severe + moderate` and
another `severe − moderate`, and together they tell both. So a table tells nothing about the
shared figures it hides: no relation between them follows from its own figures beyond the
sums that hold between the shared figures alone (the grade totals add up to the total, which
the spine publishes as a sum of its own), and its small cells stay hidden even if the shared
figures were known. Then any number of such tables, and the spine, checked together tell no
more about the shared figures than the spine alone, and nothing about each other's cells:
each can be decided by itself.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction

#: Fewer students than this in a cell and the cell is hidden.
THRESHOLD = 5

Key = Hashable


class Hidden(StrEnum):
    """Why a figure is not shown."""

    SMALL = "small"  # fewer than THRESHOLD students: shown “<5”
    COMPLEMENTARY = "complementary"  # hidden so a small cell cannot be worked out: “*”


@dataclass(frozen=True, slots=True)
class Count:
    """A figure and the number of distinct students behind it (what suppression looks at)."""

    value: int
    students: int


@dataclass(frozen=True, slots=True)
class Line:
    """One published sum: the members add up to the total."""

    members: tuple[Key, ...]
    total: Key


@dataclass(frozen=True, slots=True)
class Shown:
    """A figure as published: its value, or why it is hidden."""

    value: int | None
    hidden: Hidden | None = None

    def display(self, threshold: int = THRESHOLD) -> str:
        if self.hidden is Hidden.SMALL:
            return f"<{threshold}"
        if self.hidden is Hidden.COMPLEMENTARY:
            return "*"
        return str(self.value)


def suppress(
    entries: Mapping[Key, Count],
    lines: Sequence[Line],
    threshold: int = THRESHOLD,
    fixed: Mapping[Key, Hidden | None] | None = None,
    shared: Mapping[Key, Hidden | None] | None = None,
) -> dict[Key, Hidden]:
    """Which entries to hide, and why (see the module's docstring). `fixed` holds entries
    decided by another answer: hidden (and protected) as they are there, or shown (None).
    `shared`: those of them other tables share too (a breakdown's margins); this table then
    tells no relation between the hidden ones, and protects its own small cells as if they
    were known."""
    fixed = fixed or {}
    shared = shared or {}
    hidden: dict[Key, Hidden] = {
        key: Hidden.SMALL
        for key, count in entries.items()
        if key not in fixed and 0 < count.students < threshold
    }
    hidden.update({key: why for key, why in fixed.items() if why is not None and key in entries})
    if not hidden:
        return hidden
    protected = {key for key, why in hidden.items() if why is Hidden.SMALL or key in fixed}
    margins = frozenset(k for k, why in shared.items() if why is not None and k in hidden)
    known = frozenset(k for k, why in shared.items() if why is None)

    def exposure(now_hidden: Mapping[Key, Hidden]) -> list[Key]:
        return _exposed(now_hidden, lines, protected, margins, known)

    while True:
        _protect_lines(entries, lines, hidden, threshold, fixed)
        exposed = exposure(hidden)
        if not exposed or not _cover(entries, lines, hidden, exposed[0], fixed, exposure):
            return hidden


#: What `_exposed` reports when a table tells a relation between shared hidden figures.
RELATED_MARGINS = ("shared figures related",)


def _exposed(
    hidden: Mapping[Key, Hidden],
    lines: Sequence[Line],
    protected: Iterable[Key],
    margins: frozenset[Key],
    known: frozenset[Key],
) -> list[Key]:
    """Protected entries that can be worked out (with the shared hidden figures taken as
    known), and RELATED_MARGINS if the table relates the shared hidden figures."""
    inner = {k: why for k, why in hidden.items() if k not in margins}
    found = [k for k in determined(inner, lines) if k in protected and k not in margins]
    if margins and _relates(hidden, lines, margins, known):
        found.append(RELATED_MARGINS)
    return found


def _relates(
    hidden: Mapping[Key, Hidden],
    lines: Sequence[Line],
    margins: frozenset[Key],
    known: frozenset[Key],
) -> bool:
    """True if the table's figures tell a relation between the hidden `margins` beyond what
    the sums between shared figures alone (`margins` and the `known` ones) say.

    With the entries it hides as unknowns, margins last, the reduced echelon form's rows whose
    pivot is a margin span every relation between margins alone the table implies."""
    inner = [k for k in hidden if k not in margins and k not in known]
    order = inner + [k for k in hidden if k in margins]
    index = {key: i for i, key in enumerate(order)}
    basis = _echelon(_rows(lines, index))
    own = [row for row, pivot in zip(basis.rows, basis.pivots, strict=True) if pivot >= len(inner)]
    if not own:
        return False
    between = [
        line
        for line in lines
        if all(k in margins or k in known for k in (*line.members, line.total))
    ]
    allowed = _echelon(_rows(between, index))
    return any(not _in_span(row, allowed) for row in own)


def suppress_kept(
    entries: Mapping[Key, Count],
    lines: Sequence[Line],
    threshold: int = THRESHOLD,
    fixed: Mapping[Key, Hidden | None] | None = None,
    forced: Iterable[Key] = (),
) -> dict[Key, Hidden]:
    """`suppress` with `forced` entries (hidden by earlier answers of the same figures) hidden
    again and protected, repeated with what it hid added until it hides nothing new: then the
    same counts decided again with today's entries forced hide exactly the same ones. A forced
    entry reads “<5” while it is small, else “*” (also one hidden as small that has since
    reached five); forced wins over a `fixed` entry shown."""
    shared = dict(fixed or {})
    fixed = dict(shared)
    kept = {key for key in forced if key in entries}
    while True:
        decided = fixed | {
            key: Hidden.SMALL if 0 < entries[key].students < threshold else Hidden.COMPLEMENTARY
            for key in kept
            if fixed.get(key) is None
        }
        hidden = suppress(entries, lines, threshold, decided, shared)
        if hidden.keys() <= kept | decided.keys():
            return hidden
        kept |= hidden.keys()


def apply(entries: Mapping[Key, Count], hidden: Mapping[Key, Hidden]) -> dict[Key, Shown]:
    """Every entry as published."""
    return {
        key: Shown(None, hidden[key]) if key in hidden else Shown(count.value)
        for key, count in entries.items()
    }


def _protect_lines(
    entries: Mapping[Key, Count],
    lines: Sequence[Line],
    hidden: dict[Key, Hidden],
    threshold: int,
    fixed: Mapping[Key, Hidden | None],
) -> None:
    changed = True
    while changed:
        changed = False
        for line in lines:
            while _alone(line, hidden) or _narrowed(entries, line, hidden, threshold):
                if not _hide_one_more(entries, line, hidden, fixed):
                    break
                changed = True


def _alone(line: Line, hidden: Mapping[Key, Hidden]) -> bool:
    """One hidden entry in a line is its total minus the rest, whatever its kind."""
    return sum(key in hidden for key in (*line.members, line.total)) == 1


def _narrowed(
    entries: Mapping[Key, Count], line: Line, hidden: Mapping[Key, Hidden], threshold: int
) -> bool:
    """True if the line's arithmetic tells more about a hidden small entry than “<5” does."""
    keys = (*line.members, line.total)
    if not any(hidden.get(key) is Hidden.SMALL for key in keys):
        return False
    small = (1, threshold - 1)
    bounds = {key: _bounds(entries[key], hidden.get(key), threshold) for key in keys}
    for key in keys:
        if hidden.get(key) is not Hidden.SMALL:
            continue
        if key == line.total:
            low = sum(bounds[m][0] for m in line.members)
            high = _sum_high(bounds[m][1] for m in line.members)
        else:
            others = [m for m in line.members if m != key]
            total_low, total_high = bounds[line.total]
            low = total_low - _sum_high(bounds[m][1] for m in others)
            high = total_high - sum(bounds[m][0] for m in others)
        if low > small[0] or high < small[1]:
            return True
    return False


_UNBOUNDED = 10**18


def _bounds(count: Count, why: Hidden | None, threshold: int) -> tuple[int, int]:
    if why is None:
        return count.value, count.value
    if why is Hidden.SMALL:
        return 1, threshold - 1
    return threshold, _UNBOUNDED


def _sum_high(values: Iterable[int]) -> int:
    return min(sum(values), _UNBOUNDED)


def _hide_one_more(
    entries: Mapping[Key, Count],
    line: Line,
    hidden: dict[Key, Hidden],
    fixed: Mapping[Key, Hidden | None],
) -> bool:
    """Hide the line's smallest visible non-zero entry, members before the total; never one
    another answer shows (`fixed`)."""
    members = [
        m for m in line.members if m not in hidden and m not in fixed and entries[m].value > 0
    ]
    if members:
        pick = min(members, key=lambda m: (entries[m].value, line.members.index(m)))
    elif line.total not in hidden and line.total not in fixed and entries[line.total].value > 0:
        pick = line.total
    else:
        return False
    hidden[pick] = Hidden.COMPLEMENTARY
    return True


#: How many single candidates `_cover` tries before it simply hides the smallest one.
_COVER_TRIES = 8


def _cover(
    entries: Mapping[Key, Count],
    lines: Sequence[Line],
    hidden: dict[Key, Hidden],
    exposed: Key,
    fixed: Mapping[Key, Hidden | None],
    exposure: Callable[[Mapping[Key, Hidden]], list[Key]],
) -> bool:
    """Hide one more entry so that `exposed` can no longer be solved for, if a single one
    does it; else the smallest candidate (the caller repeats). False when nothing is left.

    Candidates are the visible non-zero entries of lines that already hide something: only
    those lines take part in the system that solved it.
    """
    touching = [line for line in lines if any(k in hidden for k in (*line.members, line.total))]
    candidates = sorted(
        {
            k
            for line in touching
            for k in (*line.members, line.total)
            if k not in hidden and k not in fixed and entries[k].value > 0
        },
        key=lambda k: (entries[k].value, repr(k)),
    )
    if not candidates:
        return False
    for candidate in candidates[:_COVER_TRIES]:
        hidden[candidate] = Hidden.COMPLEMENTARY
        if exposed not in exposure(hidden):
            return True
        del hidden[candidate]
    hidden[candidates[0]] = Hidden.COMPLEMENTARY
    return True


def determined(hidden: Mapping[Key, Hidden], lines: Sequence[Line]) -> list[Key]:
    """Hidden entries whose exact value follows from the visible ones and the table's sums.

    Each line says Σ members − total = 0. With the visible values moved aside, the hidden
    entries form a linear system; an entry is determined when its unit vector lies in the
    row space of that system.
    """
    order = list(hidden)
    if not order:
        return []
    index = {key: i for i, key in enumerate(order)}
    basis = _echelon(_rows(lines, index))
    found = []
    for key, i in index.items():
        unit = [Fraction(0)] * len(order)
        unit[i] = Fraction(1)
        if _in_span(unit, basis):
            found.append(key)
    return found


def _rows(lines: Sequence[Line], index: Mapping[Key, int]) -> list[list[Fraction]]:
    """Each line as Σ members − total over the unknowns in `index` (the rest moved aside)."""
    rows: list[list[Fraction]] = []
    for line in lines:
        row = [Fraction(0)] * len(index)
        for member in line.members:
            if member in index:
                row[index[member]] += 1
        if line.total in index:
            row[index[line.total]] -= 1
        if any(row):
            rows.append(row)
    return rows


@dataclass
class _Basis:
    rows: list[list[Fraction]] = field(default_factory=list)
    pivots: list[int] = field(default_factory=list)


def _echelon(rows: list[list[Fraction]]) -> _Basis:
    basis = _Basis()
    for row in rows:
        reduced = _reduce(list(row), basis)
        pivot = next((i for i, v in enumerate(reduced) if v), None)
        if pivot is None:
            continue
        scale = reduced[pivot]
        reduced = [v / scale for v in reduced]
        for k, other in enumerate(basis.rows):
            if other[pivot]:
                factor = other[pivot]
                basis.rows[k] = [a - factor * b for a, b in zip(other, reduced, strict=True)]
        basis.rows.append(reduced)
        basis.pivots.append(pivot)
    return basis


def _reduce(vector: list[Fraction], basis: _Basis) -> list[Fraction]:
    for row, pivot in zip(basis.rows, basis.pivots, strict=True):
        if vector[pivot]:
            factor = vector[pivot]
            vector = [a - factor * b for a, b in zip(vector, row, strict=True)]
    return vector


def _in_span(vector: list[Fraction], basis: _Basis) -> bool:
    return not any(_reduce(vector, basis))
