"""The outcomes API (/v1/outcomes): aggregates only, small cells suppressed, for readers in scope."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request, Response
from shouwang_contracts.auth import Principal
from shouwang_contracts.vocabulary import Language
from shouwang_servicekit.app import app_container
from shouwang_servicekit.problems import Problem, preferred_language
from shouwang_servicekit.security import CurrentPrincipal

from ..adapters.figures import NoProjection, PgFigures, reading
from ..container import Stats
from ..domain.periods import Month, Period, PeriodError
from ..domain.scope import Scope
from ..service_layer import reports
from ..service_layer.access import Refused, may_compare_campuses, scope_for
from ..service_layer.labels import label
from . import schemas as s
from .files import annual_file

router = APIRouter(prefix="/v1/outcomes", tags=["outcomes"])
Container = Annotated[Stats, Depends(app_container)]

_PERIOD_ZH = {
    "invalid_month": "月份格式应为 YYYY-MM（或年份 YYYY）",
    "invalid_period": "起始月份不能晚于结束月份",
    "period_too_long": "统计区间最长 120 个月",
}
_NOT_READY = Problem(
    503,
    "projection_not_ready",
    "统计数据正在首次生成，请稍后再试",
    detail_en="The figures are being built for the first time; try again shortly",
    headers={"Retry-After": "30"},
)
_PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or invalid bearer token."},
    403: {"description": "The role, campus or college is not yours to read."},
    422: {"description": "A parameter is malformed (period, dimension)."},
    503: {"description": "The projection is being built for the first time."},
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
        description="First month (YYYY-MM) or year (YYYY); default January of this year.",
    ),
]
ToQuery = Annotated[
    str | None,
    Query(
        alias="to",
        pattern=r"^\d{4}(-\d{2})?$",
        description="Last month (YYYY-MM) or year (YYYY), included; default the `from` year's end.",
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
        """The months asked for; this calendar year by default (campus time)."""
        if start is None:
            start = str(datetime.now(ZoneInfo(self.tz)).year)
        try:
            return Period.parse(start, end)
        except PeriodError as exc:
            raise Problem(422, exc.code, _PERIOD_ZH[exc.code], detail_en=str(exc)) from exc

    def head(self, period: Period) -> dict[str, Any]:
        return s.report_head(str(period), self.scope, self.language, self.threshold)

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


class _Figures:
    """`async with figures(reader) as source`: the active projection, or 503 before the first."""

    def __init__(self, who: Reader) -> None:
        self._context = reading(who.stats.pool)

    async def __aenter__(self) -> PgFigures:
        try:
            return await self._context.__aenter__()
        except NoProjection as exc:
            raise _NOT_READY from exc

    async def __aexit__(self, *exc: object) -> None:
        await self._context.__aexit__(*exc)  # type: ignore[arg-type]


_FILE_TYPES = {
    "text/csv": {"schema": {"type": "string"}},
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
        "schema": {"type": "string", "format": "binary"}
    },
}


@router.get(
    "/annual",
    operation_id="annual_outcomes",
    response_model=s.AnnualOut,
    responses={**_PROBLEMS, 200: {"content": _FILE_TYPES, "description": "The table."}},
)
async def annual_outcomes(
    who: ReaderDep,
    year: Annotated[int | None, Query(ge=2000, le=2999, description="Default: this year.")] = None,
    by: Annotated[
        Literal["none", "college", "campus"],
        Query(description="One row for the whole scope, per college, or per campus."),
    ] = "none",
    format: Annotated[
        Literal["json", "csv", "xlsx"], Query(description="json, csv or xlsx.")
    ] = "json",
) -> Any:
    """The seed's table (成效表): crisis events found by grade, and person-times relieved."""
    who.may_group_by(by)
    period = Period.year(year) if year else who.period(None, None)
    async with _Figures(who) as source:
        table = await reports.annual(source, who.scope, period, by, who.tz, who.threshold)
    out = s.annual(table, by, who.scope, who.language, who.threshold)
    if format == "json":
        return out
    body, media_type, name = annual_file(out, who.language, format)
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get(
    "/events-found",
    operation_id="events_found",
    response_model=s.FoundOut,
    responses=_PROBLEMS,
)
async def events_found(
    who: ReaderDep,
    start: FromQuery = None,
    end: ToQuery = None,
    by: Annotated[
        Literal["source", "instrument", "college", "campus", "month"],
        Query(description="Rows: the source tier, instrument, college, campus or month."),
    ] = "source",
) -> s.FoundOut:
    """Crisis events found (cases opened) by a dimension × grade."""
    who.may_group_by(by)
    period = who.period(start, end)
    async with _Figures(who) as source:
        found = await reports.events_found(source, who.scope, period, by, who.tz, who.threshold)
    return s.FoundOut(**who.head(period), table=s.cross(found, who.language, who.threshold))


@router.get(
    "/cycle-times",
    operation_id="cycle_times",
    response_model=s.CycleTimesOut,
    responses=_PROBLEMS,
)
async def cycle_times(
    who: ReaderDep, start: FromQuery = None, end: ToQuery = None
) -> s.CycleTimesOut:
    """Cycle times of the cases opened in the period: percentiles per leg and from the report."""
    period = who.period(start, end)
    async with _Figures(who) as source:
        cycles = await reports.cycles(source, who.scope, period, who.tz, who.threshold)
    return s.cycle_times(cycles, str(period), who.scope, who.language, who.threshold)


@router.get(
    "/escalations",
    operation_id="escalations",
    response_model=s.EscalationsOut,
    responses=_PROBLEMS,
)
async def escalations(
    who: ReaderDep, start: FromQuery = None, end: ToQuery = None
) -> s.EscalationsOut:
    """Acknowledgement deadlines missed per tier, and escalations per tier climbed to."""
    period = who.period(start, end)
    async with _Figures(who) as source:
        found = await reports.escalation_figures(
            source, who.scope, period, who.tz, datetime.now(UTC), who.threshold
        )
    return s.EscalationsOut(
        **who.head(period),
        breaches=s.cross(found.breaches, who.language, who.threshold),
        escalations=s.cross(found.escalations, who.language, who.threshold),
    )


@router.get(
    "/completion",
    operation_id="completion",
    response_model=s.CompletionOut,
    responses=_PROBLEMS,
)
async def completion(
    who: ReaderDep, start: FromQuery = None, end: ToQuery = None
) -> s.CompletionOut:
    """Referrals made by where they stand; follow-ups due by what became of them."""
    period = who.period(start, end)
    async with _Figures(who) as source:
        found = await reports.completion(
            source, who.scope, period, who.tz, datetime.now(UTC), who.threshold
        )
    referrals = s.listed(found.referrals, who.language, who.threshold)
    follow_ups = s.listed(found.follow_ups, who.language, who.threshold)
    by_id = {r.id: r.cell for r in (*referrals.rows, *follow_ups.rows)}
    return s.CompletionOut(
        **who.head(period),
        referrals=referrals,
        referrals_answered_share=s.share(
            [by_id[k] for k in ("accepted", "not_accepted", "returned", "referred_again")],
            [referrals.total],
        ),
        follow_ups=follow_ups,
        follow_ups_done_share=s.share(
            [by_id["on_time"], by_id["late"]],
            [by_id[k] for k in ("on_time", "late", "overdue", "upcoming")],
        ),
    )


@router.get(
    "/open-cases",
    operation_id="open_cases",
    response_model=s.OpenCasesOut,
    responses=_PROBLEMS,
)
async def open_cases(who: ReaderDep) -> s.OpenCasesOut:
    """Cases not yet closed, by state × severity, as they stand now."""
    now = Month.of(datetime.now(UTC), ZoneInfo(who.tz))
    async with _Figures(who) as source:
        found = await reports.open_now(source, who.scope, who.tz, who.threshold)
    return s.OpenCasesOut(
        **who.head(Period(now, now)), table=s.cross(found, who.language, who.threshold)
    )


@router.get(
    "/notifications",
    operation_id="notification_outcomes",
    response_model=s.NotificationsOut,
    responses=_PROBLEMS,
)
async def notification_outcomes(
    who: ReaderDep, start: FromQuery = None, end: ToQuery = None
) -> s.NotificationsOut:
    """Notifications by channel × outcome, and each channel's time from queued to delivered."""
    period = who.period(start, end)
    async with _Figures(who) as source:
        found = await reports.notification_figures(source, who.scope, period, who.tz, who.threshold)
    return s.NotificationsOut(
        **who.head(period),
        outcomes=s.cross(found.outcomes, who.language, who.threshold),
        delivery=[
            s.ChannelOut(
                channel=channel,
                label=label("channel", channel, who.language),
                **s.percentiles(distribution),
            )
            for channel, distribution in found.delivery_seconds.items()
        ],
    )


@router.get("/trends", operation_id="trends", response_model=s.TrendsOut, responses=_PROBLEMS)
async def trends(who: ReaderDep, start: FromQuery = None, end: ToQuery = None) -> s.TrendsOut:
    """Month over month: events found, person-times relieved, breaches, median cycle times.

    Default: the twelve months up to this one."""
    if start is None and end is None:
        last = Month.of(datetime.now(UTC), ZoneInfo(who.tz))
        first = Month(last.year - 1, last.month).next()
        period = Period(first, last)
    else:
        period = who.period(start, end)
    async with _Figures(who) as source:
        found = await reports.trends(
            source, who.scope, period, who.tz, datetime.now(UTC), who.threshold
        )
    return s.trends(found, str(period), who.scope, who.language, who.threshold)
