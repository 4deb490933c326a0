"""The seed's annual outcome table: events found by grade, and person-times relieved.

One row per group (the whole scope by default, or each college, or each campus), the three
seed grades and their total, and the relieved person-times beside them, all with small cells
suppressed. The found events and the relieved person-times are two tables that share rows:
their totals are separate sums, so each is suppressed on its own lines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .figures import BUCKETS
from .periods import Period
from .suppression import THRESHOLD, Count
from .tables import PublishedCross, PublishedList, cross_from_rows, list_from_rows


@dataclass(frozen=True, slots=True)
class AnnualTable:
    """The table as published."""

    period: Period
    groups: tuple[str, ...]
    found: PublishedCross
    relieved: PublishedList


def annual_table(
    period: Period,
    groups: Sequence[str],
    found: Mapping[tuple[str | None, str | None], Count],
    relieved: Mapping[str | None, Count],
    threshold: int = THRESHOLD,
) -> AnnualTable:
    """Assemble and suppress. `found` is keyed (group, bucket) with None for totals;
    `relieved` by group with None for the total."""
    return AnnualTable(
        period=period,
        groups=tuple(groups),
        found=cross_from_rows(groups, [b.value for b in BUCKETS], found).publish(threshold),
        relieved=list_from_rows(groups, relieved).publish(threshold),
    )
