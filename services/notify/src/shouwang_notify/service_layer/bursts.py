"""Severe and critical alerts to one person on one human channel, coalesced per burst.

A census with ten severe rows gave the on-duty line ten near-identical SMS within a second,
each with its own link. Many alarms of which few need a separate action desensitise the
person who receives them, and they read, or act on, fewer of them: alarm fatigue (The Joint
Commission, Sentinel Event Alert 50, "Medical device alarm safety in hospitals", 2013; its
recommended actions include reducing duplicate and non-actionable alarms). So a person's first
severe or critical alert on a channel goes at once, exactly as before, and opens a window
(`NOTIFY_ALERT_BURST_WINDOW_SECONDS`, default 20 s, at most 30 s); the alerts after it within
the window wait in PostgreSQL (`bundle_items` of kind 'alerts') and go together as one message
when it ends: the count by grade and, where the channel has room, one line and one
confirmation link per alert (an SMS names the desk's list of what awaits the person).

Each alert keeps its own deadline, escalation and link: only the message is shared. An alert
acknowledged while held drops out of the bundle, and a bundle left empty is not sent. Each
held alert is recorded as a delivery of its own, carried by the bundle's message, and is
delivered (or fails) with it. An alert raised and escalated within one window is one line, in
its latest state (the escalation's grade, rung and deadline); both events are still recorded
as delivered through the bundle. The duty system's webhook is not coalesced: it wants each
alert. But when it fails, its fallbacks to the on-duty line's phone are first sends like any
other: the first goes at once, the rest of the window's in one bundle.

A fallback from a channel that coalesces (SMS refused, so e-mail) is not held again: that
channel already let through at most one message per grade and window alone plus the window's
bundle, and each of those falls back alone. Holding the lone one again would only delay the
alert that went first by one more window, after its retries; the bundle's fallback carries its
alerts as they are. Only the webhook lets a census's alerts through one by one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from shouwang_contracts.events.notify import NotificationChannel as Channel
from shouwang_contracts.events.notify import RecipientKind
from shouwang_contracts.vocabulary import Role, Severity

from ..adapters import informed, queue
from ..domain.routing import Template
from .policy import PRIORITY, NotifyPolicy

#: Channels a person reads: a burst on these goes as one message. The robots' too: a
#: counselor who prefers DingTalk got a census's alerts as one post each, at the robot's
#: 20 a minute, and each post refused fell back to an SMS of its own.
HUMAN_CHANNELS = frozenset({Channel.SMS, Channel.EMAIL, Channel.WECOM, Channel.DINGTALK})
#: The messages that ask for action on an alert (the owner's, the on-duty line's).
_COALESCED = frozenset({Template.ALERT.value, Template.ON_DUTY.value})
KIND = "alerts"
EVENT_TYPE = "shouwang.notify.alert_burst"


def _coalesced(new: queue.NewDelivery, now: datetime) -> bool:
    return (
        new.template in _COALESCED
        and new.channel in HUMAN_CHANNELS
        and new.priority <= PRIORITY[Severity.SEVERE]
        and new.alert_id is not None
        and new.not_before <= now
    )


async def hold_bursts(
    conn: asyncpg.Connection,
    policy: NotifyPolicy,
    planned: Sequence[queue.NewDelivery],
    now: datetime,
) -> set[int]:
    """Of a batch's messages (their links issued), put each person's alerts after their first
    of a window into the window's bundle; returns their indexes in `planned`, so the caller
    queues only the rest.

    Windows are per grade: an alert waits only behind one at least as grave. A critical alert
    after a severe one goes at once and opens its own window, so imminent danger is never held
    for a message about a lesser grade (the ladder's order of urgency, DESIGN: critical before
    every other); a severe alert within a critical alert's window waits in the bundle."""
    if policy.burst_window.total_seconds() <= 0:
        return set()
    by_channel: dict[Channel, list[tuple[int, queue.NewDelivery]]] = defaultdict(list)
    for index, new in enumerate(planned):
        if _coalesced(new, now):
            by_channel[new.channel].append((index, new))
    held: set[int] = set()
    waiting: list[informed.Waiting] = []
    # Channel by channel in one order (and each statement in (campus, person) order): in the
    # order the batch first used each, two planners would lock each other's windows crosswise.
    for channel, news in sorted(by_channel.items()):
        windows = await _windows(conn, policy, channel, [n for _, n in news], now)
        used: set[tuple[int, Person]] = set()
        # The gravest (then the earliest) of a fresh window is the one that goes at once.
        for index, new in sorted(news, key=lambda p: (p[1].priority, p[1].source_time)):
            person = (new.campus_id, new.recipient_ref)
            due = _held_until(windows, used, person, new.priority, policy.burst_window)
            if due is None:
                used.add((new.priority, person))
                continue
            held.add(index)
            waiting.append(
                informed.Waiting(
                    campus_id=new.campus_id,
                    person_ref=new.recipient_ref,
                    role=new.recipient_role.value if new.recipient_role else None,
                    item=held_item(new),
                    source_event_id=new.source_event_id,
                    student_ref=new.student_ref,
                    source_time=new.source_time,
                    due_at=due,
                )
            )
    await informed.add_waiting(conn, waiting, kind=KIND)
    return held


Person = tuple[str, str]
#: Per grade (priority), each person's window: when it opened and whether it opened now.
Windows = dict[int, dict[Person, tuple[datetime, bool]]]


async def _windows(
    conn: asyncpg.Connection,
    policy: NotifyPolicy,
    channel: Channel,
    news: Sequence[queue.NewDelivery],
    now: datetime,
) -> Windows:
    """Open (or find open) the window of each grade the batch has for its people, and read the
    windows of graver grades it has not, which hold its alerts too."""
    grades = sorted({n.priority for n in news})
    people = list(dict.fromkeys((n.campus_id, n.recipient_ref) for n in news))
    windows: Windows = {}
    for grade in range(min(grades), max(grades) + 1):
        kind = f"{KIND}:{channel.value}:{grade}"
        if grade in grades:
            of_grade = list(
                dict.fromkeys((n.campus_id, n.recipient_ref) for n in news if n.priority == grade)
            )
            windows[grade] = await informed.open_windows(
                conn, of_grade, now, policy.burst_window, kind=kind
            )
        else:
            open_ = await informed.opened_within(conn, people, now, policy.burst_window, kind)
            windows[grade] = {p: (at, False) for p, at in open_.items()}
    return windows


def _held_until(
    windows: Windows, used: set[tuple[int, Person]], person: Person, grade: int, span: timedelta
) -> datetime | None:
    """When the bundle holding this alert goes, or None to send it at once: it waits behind
    an open window of its grade or a graver one (a window opened in this batch counts once its
    first alert went)."""
    ends = [
        window[person][0] + span
        for g, window in windows.items()
        if g <= grade and person in window and (not window[person][1] or (g, person) in used)
    ]
    return min(ends) if ends else None


def held_item(new: queue.NewDelivery) -> dict[str, Any]:
    """What a held alert's line says (its message's context) and what its own delivery
    record needs when the bundle goes."""
    return {
        **new.context,
        "alert_id": new.alert_id,
        "event_type": new.source_event_type,
        "template": new.template,
        "recipient_kind": new.recipient_kind.value,
        "priority": new.priority,
    }


def riders(
    items: Sequence[dict[str, Any]],
    sources: Sequence[tuple[str, str, datetime]],
    carrier: queue.NewDelivery,
) -> list[queue.NewDelivery]:
    """Each held alert's own delivery, carried by the bundle's message `carrier`; `sources`
    are the items' (source event, student, time)."""
    return [
        queue.NewDelivery(
            campus_id=carrier.campus_id,
            source_event_id=event_id,
            source_event_type=str(item["event_type"]),
            source_time=source_time,
            student_ref=student_ref,
            recipient_kind=RecipientKind(item["recipient_kind"]),
            recipient_ref=carrier.recipient_ref,
            recipient_role=Role(item["role"]) if item.get("role") else None,
            channel=carrier.channel,
            template=str(item["template"]),
            language=carrier.language,
            context={k: v for k, v in item.items() if k not in _RIDER_ONLY},
            priority=int(item["priority"]),
            not_before=carrier.not_before,
            alert_id=str(item["alert_id"]),
        )
        for item, (event_id, student_ref, source_time) in zip(items, sources, strict=True)
    ]


_RIDER_ONLY = frozenset({"alert_id", "event_type", "template", "recipient_kind", "priority"})


def latest_per_alert(
    items: Sequence[dict[str, Any]], sources: Sequence[tuple[str, str, datetime]]
) -> list[dict[str, Any]]:
    """One line per alert: of the held items of the same alert (its raise and escalation, a
    re-alert), the latest by when its event happened, then by when it was held."""
    latest: dict[str, tuple[datetime, int, dict[str, Any]]] = {}
    for position, (item, (_, _, source_time)) in enumerate(zip(items, sources, strict=True)):
        alert_id = str(item["alert_id"])
        seen = latest.get(alert_id)
        if seen is None or (source_time, position) >= seen[:2]:
            latest[alert_id] = (source_time, position, item)
    return [item for _, _, item in latest.values()]


def count_by_grade(items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """How many of each grade, gravest first."""
    counts: dict[str, int] = defaultdict(int)
    for item in items:
        counts[str(item["severity"])] += 1
    grades = sorted(counts, key=lambda s: PRIORITY[Severity(s)])
    return [{"severity": s, "count": counts[s]} for s in grades]
