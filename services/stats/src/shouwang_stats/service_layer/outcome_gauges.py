"""This year's outcomes per campus for `/metrics` (the dashboard's outcome panels).

Counted and suppressed exactly as the API counts and suppresses them (platform scope, one row
per campus); a hidden figure is simply not exported.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from ..domain.figures import BUCKETS, Timeline
from ..domain.periods import Period, as_published
from ..domain.scope import Scope
from ..domain.suppression import THRESHOLD
from ..metrics import Sample
from . import published, reports

Samples = dict[str, list[Sample]]
EVERY_CAMPUS = Scope(campuses=None)


async def outcome_families(
    source: published.SpineSource, tz: str, now: datetime, threshold: int = THRESHOLD
) -> Samples:
    """The gauges' samples for the calendar year of `now` on the campus clock, as of the end
    of its last complete month (as the API publishes it)."""
    period = as_published(Period.year(now.astimezone(ZoneInfo(tz)).year), now, ZoneInfo(tz))
    found = await published.events_found(source, EVERY_CAMPUS, period, "campus", tz, now, threshold)
    table = found.table
    events = [
        Sample({"campus": c, "grade": g}, float(table.cells[(c, g)].value or 0))
        for c in table.rows
        for g in [b.value for b in BUCKETS]
        if table.cells[(c, g)].hidden is None
    ] + [
        Sample({"campus": c, "grade": "all"}, float(table.row_totals[c].value or 0))
        for c in table.rows
        if table.row_totals[c].hidden is None
    ]
    w = reports.window(period, tz)
    relieved = await published.spine(source, "relieved", period, tz, now, threshold)
    person_times = [
        Sample({"campus": c}, float(figure.value or 0))
        for c in relieved.campuses()
        if (figure := relieved.get((c, None))).hidden is None
    ]
    per_campus: dict[str, list[Timeline]] = {}
    for _, campus, timeline in await source.timelines(EVERY_CAMPUS, w):
        per_campus.setdefault(campus, []).append(timeline)
    cycles = []
    for campus, timelines in sorted(per_campus.items()):
        for milestone in reports.TREND_MILESTONES:
            shown = reports.since_report(timelines, milestone, threshold).percentiles
            cycles += [
                Sample({"campus": campus, "milestone": milestone.value, "quantile": q}, seconds)
                for q, seconds in shown.items()
                if q in ("p50", "p90")
            ]
    return {
        "stats_events_found": events,
        "stats_person_times_relieved": person_times,
        "stats_cycle_seconds": cycles,
    }
