"""Cycle times: how long cases took on each leg of the loop, as percentiles."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .figures import LEGS, MILESTONES, Milestone, Timeline
from .percentiles import Distribution, summarise
from .suppression import THRESHOLD, Hidden


@dataclass(frozen=True, slots=True)
class CycleTimes:
    """Per leg, and per milestone counted from the report (seconds).

    `found_total`: how the year's spine shows the events found these cases are (hidden: no
    case count may bound it either).
    """

    legs: dict[str, Distribution]
    since_report: dict[Milestone, Distribution]
    found_total: Hidden | None = None


def cycle_times(timelines: Iterable[Timeline], threshold: int = THRESHOLD) -> CycleTimes:
    """Percentiles of every leg over the cases that reached both of its ends."""
    per_leg: dict[str, tuple[list[float], set[str]]] = {leg.id: ([], set()) for leg in LEGS}
    per_milestone: dict[Milestone, tuple[list[float], set[str]]] = {
        m: ([], set()) for m in MILESTONES[1:]
    }
    for timeline in timelines:
        for leg in LEGS:
            seconds = timeline.leg_seconds(leg)
            if seconds is not None:
                values, students = per_leg[leg.id]
                values.append(seconds)
                students.add(timeline.student_ref)
        for milestone, (values, students) in per_milestone.items():
            seconds = timeline.since_report(milestone)
            if seconds is not None:
                values.append(seconds)
                students.add(timeline.student_ref)
    return CycleTimes(
        legs={
            leg: summarise(values, students=len(students), threshold=threshold)
            for leg, (values, students) in per_leg.items()
        },
        since_report={
            m: summarise(values, students=len(students), threshold=threshold)
            for m, (values, students) in per_milestone.items()
        },
    )
