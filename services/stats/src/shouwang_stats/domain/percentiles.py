"""Percentiles of cycle times: one definition, used for every leg and every period.

Linear interpolation between closest ranks (the "R-7" rule, PostgreSQL's `percentile_cont`,
NumPy's default, Excel's PERCENTILE.INC): for q in [0, 1] over n sorted values the
percentile sits at position q·(n−1). It is exact on small samples, monotone in q, and gives
the median of an even count as the mean of the middle two.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from .suppression import Hidden, Shown

#: The percentiles every cycle time reports.
REPORTED = (0.5, 0.75, 0.9, 0.95)


def percentile(ordered: Sequence[float], q: float) -> float:
    """The q-quantile (0 ≤ q ≤ 1) of already sorted values."""
    if not ordered:
        raise ValueError("no values")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q must be within [0, 1], not {q}")
    position = q * (len(ordered) - 1)
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    fraction = position - below
    return ordered[below] + (ordered[above] - ordered[below]) * fraction


@dataclass(frozen=True, slots=True)
class Distribution:
    """A leg's cycle times: how many cases measured it, the distinct students behind them
    (never published) and the reported percentiles (seconds).

    `percentiles` is empty when the cases are too few to publish (see `summarise`).
    """

    count: int
    percentiles: dict[str, float]
    students: int = 0

    @property
    def shown(self) -> bool:
        return bool(self.percentiles)

    def counted(self, threshold: int, elsewhere: Hidden | None = None) -> Shown:
        """The case count as published: “<5” under the threshold of students, like any
        figure, and hidden (“*”) when it would bound a figure hidden elsewhere (`elsewhere`:
        how another answer shows the figure this count is part of)."""
        if 0 < self.students < threshold:
            return Shown(None, Hidden.SMALL)
        if elsewhere is not None and self.count:
            return Shown(None, Hidden.COMPLEMENTARY)
        return Shown(self.count)


def label(q: float) -> str:
    """`p50`, `p90`, … as the API and exports name them."""
    return f"p{round(q * 100)}"


def summarise(values: Sequence[float], *, students: int, threshold: int) -> Distribution:
    """Percentiles of `values`, unless fewer than `threshold` students stand behind them.

    A median of three cases is close to one student's own story; like a small count it is
    withheld, and so is the count (`Distribution.counted`).
    """
    if not values or students < threshold:
        return Distribution(count=len(values), percentiles={}, students=students)
    ordered = sorted(values)
    return Distribution(
        count=len(values),
        percentiles={label(q): round(percentile(ordered, q), 3) for q in REPORTED},
        students=students,
    )
