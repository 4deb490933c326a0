"""Reporting periods: calendar months in the campus's time zone, and ranges of them.

Figures are published for whole calendar years only (`calendar_year`): a fixed reporting cell,
so no two answers cover overlapping but different months that could be subtracted
(`linked.py`). Months are the rows of their year's tables. A year in progress is published
as of the end of its last complete month (`as_published`). Months begin at local midnight on
the campus, so an event at 23:30 on 31 December in Shanghai belongs to December even though
it is already January in UTC.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_YEAR = re.compile(r"^(\d{4})$")

#: The longest range one request may ask for: ten years of monthly figures.
MAX_MONTHS = 120
# The last year a period may name (the API's `year` allows as much).
LAST_YEAR = 2999


class PeriodError(ValueError):
    """A period that cannot be read or is out of bounds; `code` names which."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, order=True, slots=True)
class Month:
    """One calendar month."""

    year: int
    month: int

    def __post_init__(self) -> None:
        # 3000 only as the month after December 2999, where a period of 2999 ends.
        if not 1 <= self.month <= 12 or not 2000 <= self.year <= 3000:
            raise PeriodError("invalid_month", f"no such month: {self.year}-{self.month:02d}")

    @classmethod
    def parse(cls, text: str) -> Month:
        """`2026-03`."""
        found = _MONTH.match(text.strip())
        if not found:
            raise PeriodError("invalid_month", f"a month is written YYYY-MM, not {text[:20]!r}")
        year, month = int(found.group(1)), int(found.group(2))
        if year > LAST_YEAR:
            raise PeriodError("invalid_month", f"no such month: {year}-{month:02d}")
        return cls(year, month)

    @classmethod
    def of(cls, moment: datetime, tz: ZoneInfo) -> Month:
        """The month `moment` falls in on the campus's clock."""
        local = moment.astimezone(tz)
        return cls(local.year, local.month)

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def start(self, tz: ZoneInfo) -> datetime:
        """Local midnight on the first day of the month."""
        return datetime(self.year, self.month, 1, tzinfo=tz)

    def __str__(self) -> str:
        return f"{self.year}-{self.month:02d}"


@dataclass(frozen=True, slots=True)
class Period:
    """Whole months from `first` to `last`, both included; published `until` a month (the
    first month not counted yet, see `as_published`), or whole (None)."""

    first: Month
    last: Month
    until: Month | None = None
    #: Figures as they stand on this day (a reader who reads the year live, see
    #: `as_published`); None: as of the end of the months counted.
    today: date | None = None

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise PeriodError("invalid_period", f"{self.last} is before {self.first}")
        if self.until is not None and not self.first <= self.until <= self.last:
            raise ValueError(f"a period of {self} is published until one of its months")
        if len(self) > MAX_MONTHS:
            raise PeriodError(
                "period_too_long", f"a period spans at most {MAX_MONTHS} months, not {len(self)}"
            )

    @classmethod
    def year(cls, year: int) -> Period:
        """A calendar year, January to December."""
        return cls(Month(year, 1), Month(year, 12))

    @classmethod
    def parse(cls, start: str, end: str | None = None) -> Period:
        """`2026` (a year), `2026-03` (a month), or a range `2025-09`..`2026-08`."""
        first = _bound(start, at_end=False)
        last = _bound(end, at_end=True) if end else _bound(start, at_end=True)
        return cls(first, last)

    def months(self) -> Iterator[Month]:
        """The months counted (those before `until`)."""
        month = self.first
        while month <= self.last and month != self.until:
            yield month
            month = month.next()

    @property
    def end(self) -> Month:
        """The first month after those counted."""
        return self.until or self.last.next()

    def as_of(self) -> date:
        """The last day counted, on the campus calendar: the figures are as of its end."""
        return self.today or date(self.end.year, self.end.month, 1) - timedelta(days=1)

    def __len__(self) -> int:
        return (self.last.year - self.first.year) * 12 + self.last.month - self.first.month + 1

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """[start, end) as aware datetimes: local midnight of the first month's first day to
        local midnight of the month after the last counted."""
        return self.first.start(tz), self.end.start(tz)

    def __str__(self) -> str:
        if self.first == self.last:
            return str(self.first)
        if self.first.month == 1 and self.last.month == 12 and self.first.year == self.last.year:
            return str(self.first.year)
        return f"{self.first}..{self.last}"


def _bound(text: str, *, at_end: bool) -> Month:
    text = text.strip()
    year = _YEAR.match(text)
    if year:
        return Month.parse(f"{text}-{12 if at_end else 1:02d}")
    return Month.parse(text)


def as_published(period: Period, now: datetime, tz: ZoneInfo, *, live: bool = False) -> Period:
    """`period` as published at `now`: a period in progress counts its complete months only,
    as of the end of the last one (none in its first month); a past period, all of them.

    A total asked daily would otherwise grow by each day's events and tell them, whatever
    its small cells hide. As of the month's end, two days of one month answer the same, and
    the month's events appear at once when it closes: a month is a row of the year's tables
    already, and Chinese colleges report their outcomes monthly and by term.

    `live`: a reader whom a daily difference tells nothing new (the counseling center, who
    reads every case of the campus) reads the period in progress as it stands today.
    """
    current = Month.of(now, tz)
    if current > period.last:
        return period
    if live:
        return replace(period, today=now.astimezone(tz).date())
    return replace(period, until=max(current, period.first))


def calendar_year(period: Period) -> Period:
    """`period` if it is one whole calendar year; else a PeriodError (`period_not_fixed`).

    Arbitrary ranges are not answered: January to April beside January to March gives April
    away, however each answer is suppressed (see linked.py).
    """
    if period.first.month != 1 or period.last.month != 12 or period.first.year != period.last.year:
        raise PeriodError(
            "period_not_fixed",
            f"figures are published for whole calendar years only (YYYY), not {period}",
        )
    return period
