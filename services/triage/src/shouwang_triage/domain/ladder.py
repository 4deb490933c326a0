"""Alerts and the escalation ladder (逐级上报): who owns a grade, by when, and who is next."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from .levels import Level
from .policy import Ladder, TaskSpec
from .realerts import HeldAlert, News


@dataclass(frozen=True, slots=True)
class OpenAlert:
    """An alert nobody has acknowledged yet."""

    alert_id: str
    level: Level
    owner: str
    escalation_level: int
    ack_deadline: datetime | None


@dataclass(frozen=True, slots=True)
class DueTask:
    """A follow-up an alert asks for (e.g. a C-SSRS screen), who does it and by when."""

    task: str
    role: str
    due_at: datetime


def due_tasks(tasks: tuple[TaskSpec, ...], raised_at: datetime) -> tuple[DueTask, ...]:
    """The grade's follow-up tasks, due from when the alert was raised."""
    return tuple(DueTask(t.task, t.role, raised_at + t.within) for t in tasks)


@dataclass(frozen=True, slots=True)
class Assignment:
    """Who owns an alert now, who else hears of it, and its acknowledgement deadline.

    `realert_attempt` counts re-alerts past the top rung (0 while the alert climbs);
    `notify_on_duty` asks for the campus's on-duty contact as well.
    """

    owner: str
    inform: tuple[str, ...]
    inform_external: tuple[str, ...]
    ack_deadline: datetime
    notify_on_duty: bool = False
    realert_attempt: int = 0


class AlertAction(StrEnum):
    """What a new grade does to the student's alerts."""

    NONE = "none"  # nothing to act on (grade none, no open alert)
    RAISE = "raise"  # no open alert: raise one
    UPGRADE = "upgrade"  # an open alert of a lower grade: supersede it with a higher one
    KEEP = "keep"  # an open alert of the same grade already asks the owner to act
    KEEP_LOWER = "keep_lower"  # the grade fell, but the open alert stays open until acknowledged
    COVERED = "covered"  # an acknowledged alert of an open case already covers it: no new alert


def decide_alert(
    level: Level,
    open_alert: OpenAlert | None,
    held: HeldAlert | None = None,
    news: News | None = None,
) -> AlertAction:
    """Raise or upgrade rather than spam; never close an open alert because a grade fell.

    With no open alert, `held` (an acknowledged alert whose case is still open) covers the
    grade unless `news` says the input asks something new of a person (`realerts`).
    """
    if open_alert is None:
        if level < Level.MILD:
            return AlertAction.NONE
        if held is not None and news is not None and not news.anything:
            return AlertAction.COVERED
        return AlertAction.RAISE
    if level > open_alert.level:
        return AlertAction.UPGRADE
    if level == open_alert.level:
        return AlertAction.KEEP
    return AlertAction.KEEP_LOWER


def first_assignment(
    ladder: Ladder, level: Level, now: datetime, ack_within: timedelta | None = None
) -> Assignment:
    """The rung a freshly raised alert of `level` starts on; `ack_within`, when a deciding
    rule asks for it, shortens the rung's deadline (never lengthens it)."""
    rung = ladder.rungs[level]
    within = min(rung.ack_within, ack_within) if ack_within else rung.ack_within
    return Assignment(
        rung.owner, rung.inform, rung.inform_external, now + within, rung.on_duty_at_raise
    )


def next_assignment(
    ladder: Ladder, level: Level, current_owner: str, now: datetime, realert_attempt: int = 0
) -> Assignment | None:
    """Where an alert goes after `current_owner` missed the deadline.

    One tier up the path while there is one: the owner who missed it stays informed, as does
    everyone the severity's rung informs, so nobody who already knew is dropped. Past the top
    a severity with `realert_every` re-alerts the same owner, with everyone below on the path
    informed and the campus's on-duty contact, until someone acknowledges; others stop (None).
    """
    path = ladder.escalation_path
    position = path.index(current_owner) if current_owner in path else -1
    rung = ladder.rungs[level]
    if position + 1 < len(path):
        owner = path[position + 1]
        inform = tuple(dict.fromkeys(r for r in (current_owner, *rung.inform) if r != owner))
        return Assignment(
            owner,
            inform,
            rung.inform_external,
            now + rung.escalate_within,
            rung.on_duty_at_raise,
        )
    if rung.realert_every is None:
        return None
    inform = tuple(dict.fromkeys(r for r in (*path[:position], *rung.inform) if r != current_owner))
    return Assignment(
        current_owner,
        inform,
        rung.inform_external,
        now + rung.realert_every,
        notify_on_duty=True,
        realert_attempt=realert_attempt + 1,
    )
