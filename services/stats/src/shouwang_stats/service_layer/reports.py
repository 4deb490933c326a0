"""The reports stats answers with: counted by the store, assembled and suppressed here.

Each use case reads counts from a `FigureSource` (PostgreSQL in service, a fake in unit
tests), puts them in tables with the domain's rules and hands back what may be published:
aggregates only, every cell of fewer than five students hidden with its complements.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

from shouwang_contracts.vocabulary import Role

from ..adapters.figures import Dimension, Window
from ..domain.cycles import CycleTimes, cycle_times
from ..domain.figures import (
    BUCKETS,
    CHANNEL_SOURCES,
    SEVERITY_ORDER,
    UNKNOWN,
    Milestone,
    Timeline,
)
from ..domain.percentiles import Distribution, summarise
from ..domain.periods import Period
from ..domain.projection import CASE_STATES
from ..domain.scope import Scope
from ..domain.suppression import THRESHOLD, Count
from ..domain.tables import Fixed, PublishedCross, PublishedList, cross_from_rows, list_from_rows
from .kept import HiddenStore, published

GRADES = SEVERITY_ORDER[1:]  # mild … critical: the severities an alert or case can have
REFERRAL_STATUSES = ("pending", "accepted", "not_accepted", "returned", "referred_again")
FOLLOW_UP_FATES = ("on_time", "late", "cancelled", "overdue", "upcoming")
OUTCOMES = ("delivered", "failed")
# The milestones whose monthly median the trends chart follows.
TREND_MILESTONES = (Milestone.ACKNOWLEDGED, Milestone.INTERVENED, Milestone.CLOSED)


class FigureSource(HiddenStore, Protocol):
    """Counts of the active projection (see adapters.figures), and the cells its years have
    hidden (`kept`)."""

    async def found(
        self, scope: Scope, window: Window, by: Dimension
    ) -> dict[tuple[str | None, str | None], Count]: ...

    async def relieved(
        self, scope: Scope, window: Window, by: Dimension
    ) -> dict[str | None, Count]: ...

    async def timelines(self, scope: Scope, window: Window) -> list[tuple[str, str, Timeline]]: ...

    async def breaches(
        self, scope: Scope, window: Window, now: datetime, by: Literal["role", "month"]
    ) -> dict[tuple[str | None, str | None], Count]: ...

    async def escalations(
        self, scope: Scope, window: Window
    ) -> dict[tuple[str | None, str | None], Count]: ...

    async def referrals(self, scope: Scope, window: Window) -> dict[str | None, Count]: ...

    async def follow_ups(
        self, scope: Scope, window: Window, now: datetime
    ) -> dict[str | None, Count]: ...

    async def open_cases(
        self, scope: Scope, tz: str
    ) -> dict[tuple[str | None, str | None], Count]: ...

    async def notifications(
        self, scope: Scope, window: Window
    ) -> dict[tuple[str | None, str | None], Count]: ...

    async def delivery_seconds(
        self, scope: Scope, window: Window
    ) -> list[tuple[str, str, float]]: ...


@dataclass(frozen=True, slots=True)
class Cross:
    """A published cross table and what its rows and columns are."""

    rows_are: str
    cols_are: str
    table: PublishedCross


@dataclass(frozen=True, slots=True)
class Listed:
    """A published list table and what its rows are."""

    rows_are: str
    table: PublishedList


@dataclass(frozen=True, slots=True)
class Escalations:
    breaches: Cross
    escalations: Cross


@dataclass(frozen=True, slots=True)
class Completion:
    referrals: Listed
    follow_ups: Listed


@dataclass(frozen=True, slots=True)
class Notifications:
    outcomes: Cross
    delivery_seconds: dict[str, Distribution]


@dataclass(frozen=True, slots=True)
class Trends:
    """Month by month: events found, person-times relieved, deadlines missed and the
    median time from the report to the main milestones."""

    months: tuple[str, ...]
    found: Cross
    relieved: Listed
    breaches: Listed
    medians: dict[Milestone, dict[str, Distribution]]


@dataclass(frozen=True, slots=True)
class Pins:
    """A campus breakdown's margins as the year's spine decided them (published.py): events
    found (grade totals and total), person-times relieved and deadlines missed (totals)."""

    found: Fixed = field(default_factory=dict)
    relieved: Fixed = field(default_factory=dict)
    breaches: Fixed = field(default_factory=dict)


NO_PINS = Pins()


def window(period: Period, tz: str) -> Window:
    start, end = period.bounds(ZoneInfo(tz))
    return Window(start, end, tz)


def _ordered(values: Iterable[str | None], by: str) -> list[str]:
    present = {v for v in values if v is not None}
    order = _CANONICAL.get(by)
    if order is not None:
        known = [v for v in order if v in present]
        return known + sorted(present - set(order))
    return sorted(present, key=lambda v: (v in ("", UNKNOWN), v))


_CANONICAL: dict[str, tuple[str, ...]] = {
    "source": (
        *(r.value for r in Role if r.tier is not None),
        *CHANNEL_SOURCES,
        "screening",
        "census",
        UNKNOWN,
    ),
    "role": tuple(r.value for r in Role),
    "state": CASE_STATES,
    "instrument": ("none", "phq9", "gad7", "upi", "cssrs_screener", "scl90", UNKNOWN),
}


def _rows(by: str, keys: Iterable[str | None], period: Period | None) -> list[str]:
    if by == "none":
        return [""]
    if by == "month" and period is not None:
        return [str(m) for m in period.months()]
    return _ordered(keys, by)


async def events_found(
    source: FigureSource,
    scope: Scope,
    period: Period,
    by: Dimension,
    tz: str,
    threshold: int = THRESHOLD,
    pins: Pins = NO_PINS,
) -> Cross:
    """Events found by `by` (college, source tier, instrument, campus, month) × grade."""
    counts = await source.found(scope, window(period, tz), by)
    rows = _rows(by, [k for k, _ in counts], period)
    table = cross_from_rows(rows, [b.value for b in BUCKETS], counts)
    name = f"events-found/{by}"
    return Cross(
        by, "grade", await published(source, scope, period, name, table, threshold, pins.found)
    )


async def cycles(
    source: FigureSource,
    scope: Scope,
    period: Period,
    tz: str,
    threshold: int = THRESHOLD,
    pins: Pins = NO_PINS,
) -> CycleTimes:
    """Percentiles of each leg over the cases opened in the period; their counts are part of
    the events found, so they follow the spine's decision on their total."""
    found = await source.timelines(scope, window(period, tz))
    times = cycle_times((t for _, _, t in found), threshold)
    return dataclasses.replace(times, found_total=pins.found.get(("all",)))


async def escalation_figures(
    source: FigureSource,
    scope: Scope,
    period: Period,
    tz: str,
    now: datetime,
    threshold: int = THRESHOLD,
    pins: Pins = NO_PINS,
) -> Escalations:
    """Deadlines missed by tier, and escalations by the tier climbed to, × severity."""
    w = window(period, tz)
    missed = await source.breaches(scope, w, now, "role")
    climbed = await source.escalations(scope, w)

    async def table(
        name: str, counts: Mapping[tuple[str | None, str | None], Count], fixed: Fixed
    ) -> PublishedCross:
        rows = _ordered([k for k, _ in counts], "role")
        cross = cross_from_rows(rows, GRADES, counts)
        return await published(source, scope, period, name, cross, threshold, fixed)

    return Escalations(
        breaches=Cross("role", "severity", await table("breaches/role", missed, pins.breaches)),
        escalations=Cross("role", "severity", await table("escalations/role", climbed, {})),
    )


async def completion(
    source: FigureSource,
    scope: Scope,
    period: Period,
    tz: str,
    now: datetime,
    threshold: int = THRESHOLD,
) -> Completion:
    """Referrals made in the period by where they stand; follow-ups due by what became of them."""
    w = window(period, tz)
    made = await source.referrals(scope, w)
    due = await source.follow_ups(scope, w, now)
    referrals = list_from_rows(REFERRAL_STATUSES, made)
    follow_ups = list_from_rows(FOLLOW_UP_FATES, due)
    return Completion(
        referrals=Listed(
            "referral_status",
            await published(source, scope, period, "referrals", referrals, threshold),
        ),
        follow_ups=Listed(
            "follow_up_fate",
            await published(source, scope, period, "follow-ups", follow_ups, threshold),
        ),
    )


async def open_now(
    source: FigureSource,
    scope: Scope,
    tz: str,
    threshold: int = THRESHOLD,
    asked: Period | None = None,
) -> Cross:
    """Cases not closed, by state × severity, as they stand now. `asked`: the month it is
    asked in; what the table hid that year stays hidden on every later day of it."""
    counts = await source.open_cases(scope, tz)
    states = [s for s in CASE_STATES if s != "closed"]
    table = cross_from_rows(states, GRADES, counts)
    if asked is None:
        return Cross("state", "severity", table.publish(threshold))
    return Cross(
        "state", "severity", await published(source, scope, asked, "open-cases", table, threshold)
    )


async def notification_figures(
    source: FigureSource, scope: Scope, period: Period, tz: str, threshold: int = THRESHOLD
) -> Notifications:
    """Notifications by channel × outcome, and each channel's time from queue to delivery."""
    w = window(period, tz)
    counts = await source.notifications(scope, w)
    channels = _ordered([k for k, _ in counts], "channel")
    delivered: dict[str, tuple[list[float], set[str]]] = {}
    for channel, student, seconds in await source.delivery_seconds(scope, w):
        values, students = delivered.setdefault(channel, ([], set()))
        values.append(seconds)
        students.add(student)
    return Notifications(
        outcomes=Cross(
            "channel",
            "outcome",
            await published(
                source,
                scope,
                period,
                "notifications",
                cross_from_rows(channels, OUTCOMES, counts),
                threshold,
            ),
        ),
        delivery_seconds={
            channel: summarise(values, students=len(students), threshold=threshold)
            for channel, (values, students) in sorted(delivered.items())
        },
    )


async def trends(
    source: FigureSource,
    scope: Scope,
    period: Period,
    tz: str,
    now: datetime,
    threshold: int = THRESHOLD,
    pins: Pins = NO_PINS,
) -> Trends:
    """Month over month, so that “the cycle got shorter” is a chart."""
    w = window(period, tz)
    months = tuple(str(m) for m in period.months())
    found = cross_from_rows(
        months, [b.value for b in BUCKETS], await source.found(scope, w, "month")
    )
    relieved = list_from_rows(months, await source.relieved(scope, w, "month"))
    missed = await source.breaches(scope, w, now, "month")
    breaches = list_from_rows(
        months, {month: count for (month, col), count in missed.items() if col is None}
    )
    per_month: dict[str, list[Timeline]] = {m: [] for m in months}
    for month, _, timeline in await source.timelines(scope, w):
        per_month.setdefault(month, []).append(timeline)
    medians = {
        milestone: {month: since_report(per_month[month], milestone, threshold) for month in months}
        for milestone in TREND_MILESTONES
    }
    return Trends(
        months=months,
        found=Cross(
            "month",
            "grade",
            await published(
                source, scope, period, "events-found/month", found, threshold, pins.found
            ),
        ),
        relieved=Listed(
            "month",
            await published(
                source, scope, period, "relieved/month", relieved, threshold, pins.relieved
            ),
        ),
        breaches=Listed(
            "month",
            await published(
                source, scope, period, "breaches/month", breaches, threshold, pins.breaches
            ),
        ),
        medians=medians,
    )


def since_report(timelines: list[Timeline], milestone: Milestone, threshold: int) -> Distribution:
    values, students = [], set()
    for timeline in timelines:
        seconds = timeline.since_report(milestone)
        if seconds is not None:
            values.append(seconds)
            students.add(timeline.student_ref)
    return summarise(values, students=len(students), threshold=threshold)
