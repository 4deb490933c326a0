"""Alerts and the escalation ladder (逐级上报): who owns a grade, by when, and who is next."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from .levels import Level
from .policy import Ladder


@dataclass(frozen=True, slots=True)
class OpenAlert:
    """An alert nobody has acknowledged yet."""

    alert_id: str
    level: Level
    owner: str
    escalation_level: int
    ack_deadline: datetime | None


@dataclass(frozen=True, slots=True)
class Assignment:
    """Who owns an alert now, who else hears of it, and its acknowledgement deadline."""

    owner: str
    inform: tuple[str, ...]
    inform_external: tuple[str, ...]
    ack_deadline: datetime


class AlertAction(StrEnum):
    """What a new grade does to the student's alerts."""

    NONE = "none"  # nothing to act on (grade none, no open alert)
    RAISE = "raise"  # no open alert: raise one
    UPGRADE = "upgrade"  # an open alert of a lower grade: supersede it with a higher one
    KEEP = "keep"  # an open alert of the same grade already asks the owner to act
    KEEP_LOWER = "keep_lower"  # the grade fell, but the open alert stays open until acknowledged


def decide_alert(level: Level, open_alert: OpenAlert | None) -> AlertAction:
    """Raise or upgrade rather than spam; never close an open alert because a grade fell."""
    if open_alert is None:
        return AlertAction.RAISE if level >= Level.MILD else AlertAction.NONE
    if level > open_alert.level:
        return AlertAction.UPGRADE
    if level == open_alert.level:
        return AlertAction.KEEP
    return AlertAction.KEEP_LOWER


def first_assignment(ladder: Ladder, level: Level, now: datetime) -> Assignment:
    """The rung a freshly raised alert of `level` starts on."""
    rung = ladder.rungs[level]
    return Assignment(rung.owner, rung.inform, rung.inform_external, now + rung.ack_within)


def next_assignment(
    ladder: Ladder, level: Level, current_owner: str, now: datetime
) -> Assignment | None:
    """One tier up the path after `current_owner` missed the deadline; None at the top.

    The owner who missed the deadline stays informed, as does everyone the severity's rung
    informs, so nobody who already knew is dropped when the alert climbs.
    """
    path = ladder.escalation_path
    position = path.index(current_owner) if current_owner in path else -1
    if position + 1 >= len(path):
        return None
    owner = path[position + 1]
    rung = ladder.rungs[level]
    inform = tuple(dict.fromkeys(r for r in (current_owner, *rung.inform) if r != owner))
    return Assignment(owner, inform, rung.inform_external, now + rung.escalate_within)
