"""Figures hidden once stay hidden for their year (domain/linked.py, "Sticky within a year").

A decision of a year's figures takes the cells earlier answers of the same figures hid as
forced, and its own hidden cells are kept before the answer goes out. `family` names the
figures: a spine family ("found", "relieved", "breaches") or a campus breakdown's table
("events-found/source/<campus>", …).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol, TypeVar

from ..domain.periods import Period
from ..domain.scope import Scope
from ..domain.suppression import Key
from ..domain.tables import Fixed

T = TypeVar("T")
P = TypeVar("P", bound="_Published")
P_co = TypeVar("P_co", bound="_Published", covariant=True)


class _Published(Protocol):
    def hidden(self) -> frozenset[Key]: ...


class _Table(Protocol[P_co]):
    def publish(self, threshold: int, fixed: Fixed | None, forced: Iterable[Key]) -> P_co: ...


class HiddenStore(Protocol):
    """Where the cells a year has hidden are kept (adapters.hidden)."""

    async def hidden_before(self, year: int, family: str) -> frozenset[Key]: ...

    async def remember_hidden(
        self, year: int, family: str, seen: frozenset[Key], cells: frozenset[Key]
    ) -> frozenset[Key] | None: ...


async def kept(
    store: HiddenStore,
    year: int,
    family: str,
    decide: Callable[[frozenset[Key]], T],
    hidden: Callable[[T], frozenset[Key]],
) -> T:
    """`decide(forced)` with the cells the year has hidden before, its own hidden cells kept
    before it is returned; decided again when another answer kept cells meanwhile."""
    forced = await store.hidden_before(year, family)
    while True:
        decided = decide(forced)
        cells = hidden(decided)
        if cells <= forced:
            return decided
        newer = await store.remember_hidden(year, family, forced, cells)
        if newer is None:
            return decided
        forced = newer


async def published(
    store: HiddenStore,
    scope: Scope,
    period: Period,
    name: str,
    table: _Table[P],
    threshold: int,
    fixed: Fixed | None = None,
) -> P:
    """`table` as published. One campus's (a breakdown, `published.breakdown`) hides again
    every cell that table of its year hid before, and keeps what it hides: decided afresh
    each day, its complements could differ while other cells stay. A wider scope's own
    tables are replaced by the sum of its campuses' and kept nowhere."""
    if scope.campuses is None or len(scope.campuses) != 1 or scope.colleges is not None:
        return table.publish(threshold, fixed, ())
    return await kept(
        store,
        period.first.year,
        f"{name}/{scope.campuses[0]}",
        lambda forced: table.publish(threshold, fixed, forced),
        lambda out: out.hidden(),
    )
