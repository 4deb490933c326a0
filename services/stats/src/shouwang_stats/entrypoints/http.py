"""The outcomes API (/v1/outcomes): aggregates only, small cells suppressed, for readers in scope."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from shouwang_servicekit.problems import Problem

from ..adapters.figures import NoProjection, PgFigures, reading
from ..service_layer.published import Withheld
from .http_reader import Reader, ReaderDep
from .report_table import REPORTS, Ask, Report

router = APIRouter(prefix="/v1/outcomes", tags=["outcomes"])

_NOT_READY = Problem(
    503,
    "projection_not_ready",
    "统计数据正在首次生成，请稍后再试",
    detail_en="The figures are being built for the first time; try again shortly",
    headers={"Retry-After": "30"},
)
_WITHHELD = Problem(
    403,
    "college_breakdown_withheld",
    "学院只发布年度成效总表；按来源、月份、层级等的细分只按校区发布，"
    "以免学院与校区的结果相减推算出个别学生",
    detail_en="a college gets the annual table only; breakdowns (by source, month, tier…) are "
    "published per campus, so that a college's and its campus's answers cannot be subtracted "
    "to single out a student",
)


class _Figures:
    """`async with figures(reader) as source`: the active projection, or 503 before the first."""

    def __init__(self, who: Reader) -> None:
        self._context = reading(who.stats.pool, who.stats.writer)

    async def __aenter__(self) -> PgFigures:
        try:
            return await self._context.__aenter__()
        except NoProjection as exc:
            raise _NOT_READY from exc

    async def __aexit__(self, *exc: object) -> None:
        await self._context.__aexit__(*exc)  # type: ignore[arg-type]


async def render(report: Report, who: Reader, ask: Ask) -> Any:
    """A report's answer: its grouping checked, its months parsed, its figures read from the
    active projection and shaped; JSON, or the table as a CSV or XLSX file."""
    if ask.by is not None:
        who.may_group_by(ask.by)
    period = report.period(who, ask)
    async with _Figures(who) as source:
        try:
            found = await report.query(source, who, period, ask)
        except Withheld as exc:
            raise _WITHHELD from exc
    out = report.shape(found, who, period, ask)
    if ask.format == "json" or report.file is None:
        return out
    body, media_type, name = report.file(out, who.language, ask.format)
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _endpoint(report: Report) -> Callable[..., Awaitable[Any]]:
    async def endpoint(ask: Ask, who: ReaderDep) -> Any:
        return await render(report, who, ask)

    # The report's own parameters: an annotation object, as a string could not name `report`.
    endpoint.__annotations__["ask"] = Annotated[Ask, Depends(report.asks)]
    endpoint.__name__ = endpoint.__qualname__ = report.name
    return endpoint


for _report in REPORTS:
    router.add_api_route(
        _report.path,
        _endpoint(_report),
        methods=["GET"],
        operation_id=_report.name,
        description=_report.doc,
        response_model=_report.model,
        responses=_report.responses,
    )
