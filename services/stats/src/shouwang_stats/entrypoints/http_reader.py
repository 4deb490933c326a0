"""Who reads the outcomes API: the scope checked once per request, the months parsed, and
the query parameters every report shares."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, Query, Request
from shouwang_contracts.auth import Principal
from shouwang_contracts.vocabulary import Language
from shouwang_servicekit.app import app_container
from shouwang_servicekit.problems import Problem, preferred_language
from shouwang_servicekit.security import CurrentPrincipal

from ..container import Stats
from ..domain.periods import Period, PeriodError, as_published, calendar_year
from ..domain.scope import Scope
from ..service_layer.access import Refused, may_compare_campuses, reads_live, scope_for
from . import schemas as s

Container = Annotated[Stats, Depends(app_container)]

_PERIOD_ZH = {
    "invalid_month": "月份格式应为 YYYY-MM（或年份 YYYY）",
    "invalid_period": "起始月份不能晚于结束月份",
    "period_too_long": "统计区间最长 120 个月",
    "period_not_fixed": "统计只按整个自然年发布（YYYY），不支持任意月份区间，"
    "以免两份结果相减推算出个别学生",
}

# PostgreSQL text cannot hold a NUL byte, and no campus or college name holds a control
# character: refused as a 422 here rather than failing in the database as a 500.
_PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
CampusQuery = Annotated[
    str | None,
    Query(
        max_length=64,
        pattern=_PRINTABLE,
        description="Platform admins: one campus. Others: their own, if given.",
    ),
]
CollegeQuery = Annotated[
    str | None,
    Query(
        max_length=100,
        pattern=_PRINTABLE,
        description="Narrow the figures to one college (二级学院).",
    ),
]
FromQuery = Annotated[
    str | None,
    Query(
        alias="from",
        pattern=r"^\d{4}(-\d{2})?$",
        description="The calendar year (YYYY; or YYYY-01 with `to` YYYY-12); default this year."
        " Figures are published per whole calendar year only.",
    ),
]
ToQuery = Annotated[
    str | None,
    Query(
        alias="to",
        pattern=r"^\d{4}(-\d{2})?$",
        description="The same calendar year as `from` (YYYY, or YYYY-12); default `from`'s year.",
    ),
]


class Reader:
    """Who reads, what, in which language: resolved once per request."""

    def __init__(
        self, principal: Principal, scope: Scope, language: Language, stats: Stats
    ) -> None:
        self.principal = principal
        self.scope = scope
        self.language = language
        self.stats = stats

    @property
    def tz(self) -> str:
        return self.stats.settings.timezone

    @property
    def threshold(self) -> int:
        return self.stats.settings.suppress_below

    def period(self, start: str | None, end: str | None) -> Period:
        """The calendar year asked for; this one by default (campus time), as published
        today (`as_published`). Any other range of months is refused (`period_not_fixed`)."""
        if start is None:
            start = str(datetime.now(ZoneInfo(self.tz)).year)
        try:
            return self.as_published(calendar_year(Period.parse(start, end)))
        except PeriodError as exc:
            raise Problem(422, exc.code, _PERIOD_ZH[exc.code], detail_en=str(exc)) from exc

    def as_published(self, period: Period) -> Period:
        """`period` as published now to this reader: the year in progress as of its last
        complete month, or as it stands today for the counseling center (`reads_live`)."""
        return as_published(
            period, datetime.now(UTC), ZoneInfo(self.tz), live=reads_live(self.principal)
        )

    def head(self, period: Period, *, now: bool = False) -> dict[str, Any]:
        """The answer's head; `now`: figures as they stand now, as of no past day."""
        return s.report_head(period, self.scope, self.language, self.threshold, now=now)

    def may_group_by(self, by: str) -> None:
        """Only platform admins see figures side by side per campus."""
        if by == "campus" and not may_compare_campuses(self.principal):
            raise Problem(
                403,
                "campus_comparison_forbidden",
                "只有平台管理员可以按校区比较",
                detail_en="only platform admins compare campuses",
            )


async def reader(
    request: Request,
    principal: CurrentPrincipal,
    stats: Container,
    campus_id: CampusQuery = None,
    college: CollegeQuery = None,
) -> Reader:
    try:
        scope = scope_for(principal, campus_id, college)
    except Refused as exc:
        raise Problem(403, exc.code, exc.detail_zh, detail_en=exc.detail_en) from exc
    return Reader(principal, scope, preferred_language(request), stats)


ReaderDep = Annotated[Reader, Depends(reader)]
