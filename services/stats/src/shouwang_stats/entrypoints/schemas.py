"""What the stats API answers with: aggregates only, every figure a value or why it is hidden.

The converters here turn the service layer's published tables into these models, with labels
in the caller's language; the CSV and XLSX exports are made from the same models, so a file
and the JSON always hold the same numbers.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from shouwang_contracts.vocabulary import Language

from ..domain.annual import AnnualTable
from ..domain.cycles import CycleTimes
from ..domain.figures import BUCKETS, LEGS, MILESTONES, Milestone
from ..domain.percentiles import Distribution
from ..domain.periods import Period
from ..domain.scope import Scope
from ..domain.suppression import Shown
from ..domain.tables import PublishedCross, PublishedList
from ..service_layer import reports
from ..service_layer.labels import ALL, SUPPRESSED_NOTE, TOTAL, label, text


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class CellOut(_Out):
    """One figure as published."""

    value: int | None = Field(description="The figure; null when it is hidden.")
    display: str = Field(description="What to show: the figure, “<5” or “*”.")
    hidden: Literal["small", "complementary"] | None = Field(
        default=None,
        description="Why it is hidden: `small` (fewer than the threshold of students) or"
        " `complementary` (hidden so that a small cell cannot be worked out from the totals).",
    )


class ColumnOut(_Out):
    id: str
    label: str


class CrossRowOut(_Out):
    id: str = Field(description="The row's id (a college, a role, a month, …); `total` for totals.")
    label: str
    cells: dict[str, CellOut] = Field(description="By column id.")
    total: CellOut


class CrossOut(_Out):
    """A table of counts by rows and columns, with its totals."""

    rows_are: str = Field(description="What the rows are: college, source, role, state, …")
    columns_are: str = Field(description="What the columns are: grade, severity, outcome, …")
    columns: list[ColumnOut]
    rows: list[CrossRowOut]
    totals: CrossRowOut


class ListRowOut(_Out):
    id: str
    label: str
    cell: CellOut


class ListOut(_Out):
    """One count per row, and their total."""

    rows_are: str
    rows: list[ListRowOut]
    total: CellOut


class PercentilesOut(_Out):
    """Percentiles of a duration, in seconds; empty when too few students stand behind it."""

    count: CellOut = Field(
        description="How many cases measured it, hidden like any figure (“<5” under the"
        " threshold of students, “*” when it would bound a figure hidden elsewhere)."
    )
    shown: bool = Field(description="False when fewer students than the threshold: withheld.")
    seconds: dict[str, float] = Field(description="p50, p75, p90, p95 in seconds.")


class LegOut(PercentilesOut):
    id: str = Field(description="`<start>__<end>`, e.g. `graded__acknowledged`.")
    label: str
    start: str
    end: str


class MilestoneOut(PercentilesOut):
    milestone: str
    label: str


class ScopeOut(_Out):
    campus_id: str | None = Field(description="The campus; null: every campus.")
    colleges: list[str] | None = Field(description="The colleges; null: every college.")


class _Report(_Out):
    period: str = Field(description="The calendar year, e.g. `2025`; `YYYY-MM` for figures of now.")
    as_of: str | None = Field(
        description="The last day counted (YYYY-MM-DD, campus calendar): the figures are as of"
        " its end. A year in progress is published as of the end of its last complete month,"
        " so that every day of a month answers the same (to the counseling center, which"
        " reads every case of its campus, as it stands today); a past year, as of 31 December."
        " Null: figures as they stand now (open cases)."
    )
    scope: ScopeOut
    threshold: int = Field(description="Cells of fewer students than this are hidden.")
    note: str = Field(description="How hidden figures are shown.")


class AnnualRowOut(_Out):
    id: str
    label: str
    found: dict[str, CellOut] = Field(description="Events found by grade: severe, moderate, mild.")
    found_total: CellOut
    relieved: CellOut = Field(description="Person-times relieved (缓解人次).")


class AnnualOut(_Report):
    """The seed's table: crisis events found by grade and person-times relieved."""

    by: str
    columns: list[ColumnOut]
    rows: list[AnnualRowOut]
    totals: AnnualRowOut


class FoundOut(_Report):
    table: CrossOut


class CycleTimesOut(_Report):
    """Cycle times of the cases opened in the period, leg by leg and from the report."""

    legs: list[LegOut]
    since_report: list[MilestoneOut]


class EscalationsOut(_Report):
    breaches: CrossOut = Field(description="Deadlines missed, by the tier that missed them.")
    escalations: CrossOut = Field(description="Escalations, by the tier the alert climbed to.")


class CompletionOut(_Report):
    referrals: ListOut = Field(description="Referrals made in the period, by where they stand.")
    referrals_answered_share: float | None = Field(
        description="Answered (accepted, not accepted, returned, referred again) of those made;"
        " null when a figure it needs is hidden."
    )
    follow_ups: ListOut = Field(description="Follow-ups due in the period, by what became of them.")
    follow_ups_done_share: float | None = Field(
        description="Done (on time or late) of those due and not cancelled; null when hidden."
    )


class OpenCasesOut(_Report):
    table: CrossOut


class ChannelOut(PercentilesOut):
    channel: str
    label: str


class NotificationsOut(_Report):
    outcomes: CrossOut
    delivery: list[ChannelOut] = Field(description="Time from queued to delivered, by channel.")


class MonthOut(_Out):
    month: str
    found: dict[str, CellOut]
    found_total: CellOut
    relieved: CellOut
    breaches: CellOut
    median_seconds_to: dict[str, float | None] = Field(
        description="Median time from the report to acknowledged, intervened and closed, for"
        " the cases opened that month (null: too few to show)."
    )


class TrendsOut(_Report):
    """Month over month, for charts."""

    months: list[MonthOut]


# --- converters ---------------------------------------------------------------------------


def cell(shown: Shown, threshold: int) -> CellOut:
    return CellOut(
        value=shown.value,
        display=shown.display(threshold),
        hidden=shown.hidden.value if shown.hidden else None,
    )


def cross(published: reports.Cross, lang: Language, threshold: int) -> CrossOut:
    table: PublishedCross = published.table
    return CrossOut(
        rows_are=published.rows_are,
        columns_are=published.cols_are,
        columns=[ColumnOut(id=c, label=label(published.cols_are, c, lang)) for c in table.cols],
        rows=[
            CrossRowOut(
                id=r,
                label=label(published.rows_are, r, lang),
                cells={c: cell(table.cells[(r, c)], threshold) for c in table.cols},
                total=cell(table.row_totals[r], threshold),
            )
            for r in table.rows
        ],
        totals=CrossRowOut(
            id="total",
            label=text(TOTAL, lang),
            cells={c: cell(table.col_totals[c], threshold) for c in table.cols},
            total=cell(table.total, threshold),
        ),
    )


def listed(published: reports.Listed, lang: Language, threshold: int) -> ListOut:
    table: PublishedList = published.table
    return ListOut(
        rows_are=published.rows_are,
        rows=[
            ListRowOut(
                id=r,
                label=label(published.rows_are, r, lang),
                cell=cell(table.cells[r], threshold),
            )
            for r in table.rows
        ],
        total=cell(table.total, threshold),
    )


def percentiles(
    distribution: Distribution, threshold: int, count: Shown | None = None
) -> dict[str, object]:
    """A distribution as published; `count`: its case count as another table decided it."""
    return {
        "count": cell(count or distribution.counted(threshold), threshold),
        "shown": distribution.shown,
        "seconds": distribution.percentiles,
    }


def report_head(
    period: Period, scope: Scope, lang: Language, threshold: int, *, now: bool = False
) -> dict[str, object]:
    return {
        "period": str(period),
        "as_of": None if now else period.as_of().isoformat(),
        "scope": ScopeOut(
            campus_id=scope.campus_id,
            colleges=list(scope.colleges) if scope.colleges is not None else None,
        ),
        "threshold": threshold,
        "note": text(SUPPRESSED_NOTE, lang).replace("5", str(threshold)),
    }


def annual(table: AnnualTable, by: str, scope: Scope, lang: Language, threshold: int) -> AnnualOut:
    found, relieved = table.found, table.relieved
    buckets = [b.value for b in BUCKETS]

    def row(group: str) -> AnnualRowOut:
        return AnnualRowOut(
            id=group or ("all" if by == "none" else ""),
            label=label(by, group, lang),
            found={b: cell(found.cells[(group, b)], threshold) for b in buckets},
            found_total=cell(found.row_totals[group], threshold),
            relieved=cell(relieved.cells[group], threshold),
        )

    return AnnualOut(
        **report_head(table.period, scope, lang, threshold),
        by=by,
        columns=[ColumnOut(id=b, label=label("grade", b, lang)) for b in buckets],
        rows=[row(g) for g in table.groups],
        totals=AnnualRowOut(
            id="total",
            label=text(TOTAL if by != "none" else ALL, lang),
            found={b: cell(found.col_totals[b], threshold) for b in buckets},
            found_total=cell(found.total, threshold),
            relieved=cell(relieved.total, threshold),
        ),
    )


def cycle_times(
    cycles: CycleTimes, period: Period, scope: Scope, lang: Language, threshold: int
) -> CycleTimesOut:
    hid = cycles.found_total
    return CycleTimesOut(
        **report_head(period, scope, lang, threshold),
        legs=[
            LegOut(
                id=leg.id,
                label=text(leg.labels(), lang),
                start=leg.start.value,
                end=leg.end.value,
                **percentiles(
                    cycles.legs[leg.id], threshold, cycles.legs[leg.id].counted(threshold, hid)
                ),
            )
            for leg in LEGS
        ],
        since_report=[
            MilestoneOut(
                milestone=m.value,
                label=label("milestone", m.value, lang),
                **percentiles(
                    cycles.since_report[m],
                    threshold,
                    cycles.since_report[m].counted(threshold, hid),
                ),
            )
            for m in MILESTONES[1:]
        ],
    )


def trends(
    found: reports.Trends, period: Period, scope: Scope, lang: Language, threshold: int
) -> TrendsOut:
    table = found.found.table
    buckets = [b.value for b in BUCKETS]

    def median(milestone: Milestone, month: str) -> float | None:
        return found.medians[milestone][month].percentiles.get("p50")

    return TrendsOut(
        **report_head(period, scope, lang, threshold),
        months=[
            MonthOut(
                month=month,
                found={b: cell(table.cells[(month, b)], threshold) for b in buckets},
                found_total=cell(table.row_totals[month], threshold),
                relieved=cell(found.relieved.table.cells[month], threshold),
                breaches=cell(found.breaches.table.cells[month], threshold),
                median_seconds_to={m.value: median(m, month) for m in reports.TREND_MILESTONES},
            )
            for month in found.months
        ],
    )


def share(part: list[CellOut], whole: list[CellOut]) -> float | None:
    """Σ part / Σ whole, if every figure is shown and the whole is not zero."""
    if any(c.value is None for c in (*part, *whole)):
        return None
    denominator = sum(c.value or 0 for c in whole)
    return round(sum(c.value or 0 for c in part) / denominator, 4) if denominator else None
