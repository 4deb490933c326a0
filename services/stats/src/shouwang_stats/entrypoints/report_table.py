"""The outcomes API's report table: each report's URL, operation id, parameters, months,
query and answer. `http.py` makes one endpoint per row and renders them all alike."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import Query
from pydantic import BaseModel
from shouwang_contracts.vocabulary import Language

from ..adapters.figures import Dimension, PgFigures
from ..domain.periods import Month, Period
from ..domain.scope import Scope
from ..service_layer import published, reports
from ..service_layer.labels import label
from . import schemas as s
from .files import annual_file
from .http_reader import FromQuery, Reader, ToQuery

_PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or invalid bearer token."},
    403: {
        "description": "The role, campus or college is not yours to read, or a breakdown was"
        " asked for a college (only the annual table is published per college)."
    },
    422: {"description": "A parameter is malformed (period, dimension), or not a calendar year."},
    503: {"description": "The projection is being built for the first time."},
}

_FILE_TYPES = {
    "text/csv": {"schema": {"type": "string"}},
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
        "schema": {"type": "string", "format": "binary"}
    },
}


# --- what each report asks: its own query parameters, read raw (refusals come after the
# reader's scope check, as the renderer parses them) -----------------------------------------

FileFormat = Literal["json", "csv", "xlsx"]


@dataclass(frozen=True, slots=True)
class Ask:
    """A report's query parameters as sent."""

    start: str | None = None
    end: str | None = None
    by: Dimension | None = None
    year: int | None = None
    format: FileFormat = "json"


def _asks_nothing() -> Ask:
    return Ask()


def _asks_months(start: FromQuery = None, end: ToQuery = None) -> Ask:
    return Ask(start, end)


def _asks_months_by(
    start: FromQuery = None,
    end: ToQuery = None,
    by: Annotated[
        Literal["source", "instrument", "college", "campus", "month"],
        Query(description="Rows: the source tier, instrument, college, campus or month."),
    ] = "source",
) -> Ask:
    return Ask(start, end, by)


def _asks_year_table(
    year: Annotated[int | None, Query(ge=2000, le=2999, description="Default: this year.")] = None,
    by: Annotated[
        Literal["none", "college", "campus"],
        Query(description="One row for the whole scope, per college, or per campus."),
    ] = "none",
    format: Annotated[FileFormat, Query(description="json, csv or xlsx.")] = "json",
) -> Ask:
    return Ask(by=by, year=year, format=format)


# --- which months a report covers --------------------------------------------------------------


def _months_asked(who: Reader, ask: Ask) -> Period:
    return who.period(ask.start, ask.end)


def _year_asked(who: Reader, ask: Ask) -> Period:
    return who.as_published(Period.year(ask.year)) if ask.year else who.period(None, None)


def _this_month(who: Reader, ask: Ask) -> Period:
    now = Month.of(datetime.now(UTC), ZoneInfo(who.tz))
    return Period(now, now)


# --- the report table --------------------------------------------------------------------------

#: Runs a report's query on the active projection: (source, reader, period, ask) -> figures.
RunQuery = Callable[[PgFigures, Reader, Period, Ask], Awaitable[Any]]
#: Shapes the figures as the report's answer: (figures, reader, period, ask) -> model.
Shape = Callable[[Any, Reader, Period, Ask], BaseModel]


@dataclass(frozen=True, slots=True)
class Report:
    """One report of the outcomes API: its URL and operation id (`name`, also the endpoint's
    name the OpenAPI summary is made from), its parameters, months, query and answer."""

    path: str
    name: str
    doc: str
    model: type[BaseModel]
    asks: Callable[..., Ask]
    period: Callable[[Reader, Ask], Period]
    query: RunQuery
    shape: Shape
    responses: dict[int | str, dict[str, Any]] = field(default_factory=lambda: _PROBLEMS)
    #: (answer, language, csv or xlsx) -> (body, media type, file name), for `format=`.
    file: Callable[[Any, Language, str], tuple[bytes, str, str]] | None = None


#: A breakdown's query for one scope: (source, scope, period, reader, pins) -> figures.
Breakdown = Callable[[PgFigures, Scope, Period, Reader, reports.Pins], Awaitable[Any]]


def _breakdown(query: Breakdown, *, now: bool = False) -> RunQuery:
    """A report that is a breakdown (published.breakdown): a campus's, with the year's
    margins fixed, or a sum of campuses'; never a college's. `now`: figures as they stand
    now, of no year."""

    async def run(source: PgFigures, who: Reader, period: Period, ask: Ask) -> Any:
        async def within(scope: Scope, pins: reports.Pins) -> Any:
            return await query(source, scope, period, who, pins)

        year = None if now else period
        return await published.breakdown(
            source, who.scope, year, who.tz, datetime.now(UTC), who.threshold, within
        )

    return run


def _cross(found: reports.Cross, who: Reader) -> s.CrossOut:
    return s.cross(found, who.language, who.threshold)


def _escalations(
    found: reports.Escalations, who: Reader, period: Period, ask: Ask
) -> s.EscalationsOut:
    return s.EscalationsOut(
        **who.head(period),
        breaches=_cross(found.breaches, who),
        escalations=_cross(found.escalations, who),
    )


def _completion(
    found: reports.Completion, who: Reader, period: Period, ask: Ask
) -> s.CompletionOut:
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


def _notifications(
    found: reports.Notifications, who: Reader, period: Period, ask: Ask
) -> s.NotificationsOut:
    return s.NotificationsOut(
        **who.head(period),
        outcomes=_cross(found.outcomes, who),
        delivery=[
            s.ChannelOut(
                channel=channel,
                label=label("channel", channel, who.language),
                # The count of deliveries is the table's delivered cell: shown as it is.
                **s.percentiles(
                    distribution,
                    who.threshold,
                    found.outcomes.table.cells.get((channel, "delivered")),
                ),
            )
            for channel, distribution in found.delivery_seconds.items()
        ],
    )


REPORTS = (
    Report(
        "/annual",
        "annual_outcomes",
        "The seed's table (成效表): crisis events found by grade, and person-times relieved.",
        s.AnnualOut,
        _asks_year_table,
        _year_asked,
        lambda source, who, period, ask: published.annual(
            source, who.scope, period, ask.by or "none", who.tz, datetime.now(UTC), who.threshold
        ),
        lambda found, who, period, ask: s.annual(
            found, ask.by or "none", who.scope, who.language, who.threshold
        ),
        responses={**_PROBLEMS, 200: {"content": _FILE_TYPES, "description": "The table."}},
        file=annual_file,
    ),
    Report(
        "/events-found",
        "events_found",
        "Crisis events found (cases opened) by a dimension × grade.",
        s.FoundOut,
        _asks_months_by,
        _months_asked,
        lambda source, who, period, ask: published.events_found(
            source,
            who.scope,
            period,
            ask.by or "source",
            who.tz,
            datetime.now(UTC),
            who.threshold,
        ),
        lambda found, who, period, ask: s.FoundOut(**who.head(period), table=_cross(found, who)),
    ),
    Report(
        "/cycle-times",
        "cycle_times",
        "Cycle times of the cases opened in the period: percentiles per leg and from the report.",
        s.CycleTimesOut,
        _asks_months,
        _months_asked,
        _breakdown(
            lambda source, within, period, who, pins: reports.cycles(
                source, within, period, who.tz, who.threshold, pins
            )
        ),
        lambda found, who, period, ask: s.cycle_times(
            found, period, who.scope, who.language, who.threshold
        ),
    ),
    Report(
        "/escalations",
        "escalations",
        "Acknowledgement deadlines missed per tier, and escalations per tier climbed to.",
        s.EscalationsOut,
        _asks_months,
        _months_asked,
        _breakdown(
            lambda source, within, period, who, pins: reports.escalation_figures(
                source, within, period, who.tz, datetime.now(UTC), who.threshold, pins
            )
        ),
        _escalations,
    ),
    Report(
        "/completion",
        "completion",
        "Referrals made by where they stand; follow-ups due by what became of them.",
        s.CompletionOut,
        _asks_months,
        _months_asked,
        _breakdown(
            lambda source, within, period, who, pins: reports.completion(
                source, within, period, who.tz, datetime.now(UTC), who.threshold
            )
        ),
        _completion,
    ),
    Report(
        "/open-cases",
        "open_cases",
        "Cases not yet closed, by state × severity, as they stand now.",
        s.OpenCasesOut,
        _asks_nothing,
        _this_month,
        _breakdown(
            lambda source, within, period, who, pins: reports.open_now(
                source, within, who.tz, who.threshold, period
            ),
            now=True,
        ),
        lambda found, who, period, ask: s.OpenCasesOut(
            **who.head(period, now=True), table=_cross(found, who)
        ),
    ),
    Report(
        "/notifications",
        "notification_outcomes",
        "Notifications by channel × outcome, and each channel's time from queued to delivered.",
        s.NotificationsOut,
        _asks_months,
        _months_asked,
        _breakdown(
            lambda source, within, period, who, pins: reports.notification_figures(
                source, within, period, who.tz, who.threshold
            )
        ),
        _notifications,
    ),
    Report(
        "/trends",
        "trends",
        "Month over month: events found, person-times relieved, breaches, median cycle times."
        "\n\nThe months of one calendar year (default this year).",
        s.TrendsOut,
        _asks_months,
        _months_asked,
        _breakdown(
            lambda source, within, period, who, pins: reports.trends(
                source, within, period, who.tz, datetime.now(UTC), who.threshold, pins
            )
        ),
        lambda found, who, period, ask: s.trends(
            found, period, who.scope, who.language, who.threshold
        ),
    ),
)
