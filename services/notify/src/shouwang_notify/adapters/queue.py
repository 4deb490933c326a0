"""The delivery queue in PostgreSQL: enqueue once, claim with SKIP LOCKED under a lease.

`(source_event_id, recipient_ref, channel)` is unique, so a redelivered event or a second
replica cannot queue a message twice; `claim` hands each due row to exactly one worker for
the lease, and a worker that dies mid-send leaves the row to be claimed again after it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from shouwang_contracts.events.notify import NotificationChannel as Channel
from shouwang_contracts.events.notify import RecipientKind
from shouwang_contracts.vocabulary import Role


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """A message to queue for one recipient on one channel."""

    campus_id: str
    source_event_id: str
    source_event_type: str
    source_time: datetime
    student_ref: str
    recipient_kind: RecipientKind
    recipient_ref: str
    recipient_role: Role | None
    channel: Channel
    template: str
    language: str
    context: dict[str, Any]
    priority: int
    not_before: datetime
    alert_id: str | None = None
    case_id: str | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """A queued message as a worker claimed it."""

    id: int
    notification_id: str
    campus_id: str
    source_event_id: str
    source_event_type: str
    source_time: datetime
    alert_id: str | None
    case_id: str | None
    student_ref: str
    recipient_kind: RecipientKind
    recipient_ref: str
    recipient_role: Role | None
    channel: Channel
    template: str
    language: str
    context: dict[str, Any]
    priority: int
    attempts: int
    created_at: datetime

    def fallback(self, channel: Channel, now: datetime) -> NewDelivery:
        """The same message for the same recipient on the next channel, due at once."""
        return NewDelivery(
            campus_id=self.campus_id,
            source_event_id=self.source_event_id,
            source_event_type=self.source_event_type,
            source_time=self.source_time,
            student_ref=self.student_ref,
            recipient_kind=self.recipient_kind,
            recipient_ref=self.recipient_ref,
            recipient_role=self.recipient_role,
            channel=channel,
            template=self.template,
            language=self.language,
            context=self.context,
            priority=self.priority,
            not_before=now,
            alert_id=self.alert_id,
            case_id=self.case_id,
        )


def _delivery(row: asyncpg.Record) -> Delivery:
    return Delivery(
        id=row["id"],
        notification_id=str(row["notification_id"]),
        campus_id=row["campus_id"],
        source_event_id=row["source_event_id"],
        source_event_type=row["source_event_type"],
        source_time=row["source_time"],
        alert_id=row["alert_id"],
        case_id=row["case_id"],
        student_ref=row["student_ref"],
        recipient_kind=RecipientKind(row["recipient_kind"]),
        recipient_ref=row["recipient_ref"],
        recipient_role=Role(row["recipient_role"]) if row["recipient_role"] else None,
        channel=Channel(row["channel"]),
        template=row["template"],
        language=row["language"],
        context=json.loads(row["context"]),
        priority=row["priority"],
        attempts=row["attempts"],
        created_at=row["created_at"],
    )


async def enqueue(conn: asyncpg.Connection, new: NewDelivery) -> bool:
    """Queue a message; False if this (event, recipient, channel) is queued already."""
    status = await conn.execute(
        """
        INSERT INTO deliveries (notification_id, campus_id, source_event_id, source_event_type,
            source_time, alert_id, case_id, student_ref, recipient_kind, recipient_ref,
            recipient_role, channel, template, language, context, priority, not_before)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15::jsonb, $16, $17)
        ON CONFLICT (source_event_id, recipient_ref, channel) DO NOTHING
        """,
        uuid.uuid4(),
        new.campus_id,
        new.source_event_id,
        new.source_event_type,
        new.source_time,
        new.alert_id,
        new.case_id,
        new.student_ref,
        new.recipient_kind.value,
        new.recipient_ref,
        new.recipient_role.value if new.recipient_role else None,
        new.channel.value,
        new.template,
        new.language,
        json.dumps(new.context, ensure_ascii=False),
        new.priority,
        new.not_before,
    )
    return bool(status.endswith(" 1"))


_ENQUEUE_MANY = """
INSERT INTO deliveries (notification_id, campus_id, source_event_id, source_event_type,
    source_time, alert_id, case_id, student_ref, recipient_kind, recipient_ref,
    recipient_role, channel, template, language, context, priority, not_before, status,
    carried_by)
SELECT n, cp, se, st, stime, a, cs, s, rk, rr, rl, ch, tpl, l, ctx::jsonb, p, nb,
    CASE WHEN $18::text IS NULL THEN 'pending' ELSE 'bundled' END, $18
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[],
    $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[],
    $14::text[], $15::text[], $16::int[], $17::timestamptz[])
    AS new(n, cp, se, st, stime, a, cs, s, rk, rr, rl, ch, tpl, l, ctx, p, nb)
ON CONFLICT (source_event_id, recipient_ref, channel) DO NOTHING
"""


async def enqueue_many(
    conn: asyncpg.Connection, news: Sequence[NewDelivery], carried_by: str | None = None
) -> int:
    """Queue many messages in one statement; returns how many were new (an (event,
    recipient, channel) queued already is skipped, as `enqueue` skips it). With `carried_by`
    they are not sent themselves: they go in that bundle's message (status 'bundled')."""
    if not news:
        return 0
    status = await conn.execute(
        _ENQUEUE_MANY,
        [uuid.uuid4() for _ in news],
        [n.campus_id for n in news],
        [n.source_event_id for n in news],
        [n.source_event_type for n in news],
        [n.source_time for n in news],
        [n.alert_id for n in news],
        [n.case_id for n in news],
        [n.student_ref for n in news],
        [n.recipient_kind.value for n in news],
        [n.recipient_ref for n in news],
        [n.recipient_role.value if n.recipient_role else None for n in news],
        [n.channel.value for n in news],
        [n.template for n in news],
        [n.language for n in news],
        [json.dumps(n.context, ensure_ascii=False) for n in news],
        [n.priority for n in news],
        [n.not_before for n in news],
        carried_by,
    )
    return int(status.rsplit(" ", 1)[1])


# Rows claimed per channel, at most `budget` each and `total` in all, gravest first: a lane
# claims only what it can send now, so a throttled channel's rows wait in the queue (where
# another lane or replica may take them) rather than hold the lane's slots.
_CLAIM = """
WITH due AS (
    SELECT picked.id FROM unnest($1::text[], $2::int[]) AS budget(channel, n)
    CROSS JOIN LATERAL (
        SELECT id, priority, not_before FROM deliveries
        WHERE status = 'pending' AND channel = budget.channel AND priority <= $3
          AND not_before <= $4
        ORDER BY priority, not_before
        LIMIT budget.n
        FOR UPDATE SKIP LOCKED
    ) picked
    ORDER BY picked.priority, picked.not_before
    LIMIT $5
)
UPDATE deliveries d SET status = 'sending', lease_until = $6
FROM due WHERE d.id = due.id
RETURNING d.*
"""


async def claim(
    conn: asyncpg.Connection,
    budgets: Mapping[Channel, int],
    *,
    total: int,
    max_priority: int,
    lease: timedelta,
    now: datetime,
) -> list[Delivery]:
    """Take due rows for the channels in `budgets` (up to each channel's budget and `total`
    in all), the gravest first, under a lease until `now + lease`."""
    channels = [c for c, n in budgets.items() if n > 0]
    if not channels or total <= 0:
        return []
    rows = await conn.fetch(
        _CLAIM,
        [c.value for c in channels],
        [budgets[c] for c in channels],
        max_priority,
        now,
        total,
        now + lease,
    )
    return sorted((_delivery(r) for r in rows), key=lambda d: (d.priority, d.id))


async def release_expired(conn: asyncpg.Connection, now: datetime) -> int:
    """Rows whose worker's lease ran out (it died, or hung) are due again."""
    status = await conn.execute(
        "UPDATE deliveries SET status = 'pending', lease_until = NULL"
        " WHERE status = 'sending' AND lease_until < $1",
        now,
    )
    return int(status.split()[-1])


async def mark_sent(
    conn: asyncpg.Connection, sent: Sequence[tuple[int, int]], now: datetime
) -> set[int]:
    """Mark (id, attempts) rows sent; returns the ids still ours (not cancelled meanwhile by a
    withdrawal)."""
    rows = await conn.fetch(
        """
        UPDATE deliveries d SET status = 'sent', attempts = s.attempts, finished_at = $3,
            lease_until = NULL, last_error = NULL
        FROM unnest($1::bigint[], $2::int[]) AS s(id, attempts)
        WHERE d.id = s.id AND d.status = 'sending'
        RETURNING d.id
        """,
        [i for i, _ in sent],
        [a for _, a in sent],
        now,
    )
    return {row["id"] for row in rows}


async def settle_riders(
    conn: asyncpg.Connection,
    carriers: Sequence[Delivery],
    now: datetime,
    *,
    status: str = "sent",
    error: str | None = None,
) -> list[Delivery]:
    """The alerts `carriers` (bundles' messages) carried, now ended as they did (`status`:
    sent, failed for `error`, or a call task) on their channel; returns them."""
    if not carriers:
        return []
    rows = await conn.fetch(
        """
        UPDATE deliveries d SET status = $4, channel = c.channel, attempts = 1, finished_at = $5,
            last_error = $6
        FROM unnest($1::text[], $2::text[], $3::text[]) AS c(carried_by, recipient_ref, channel)
        WHERE d.carried_by = c.carried_by AND d.recipient_ref = c.recipient_ref
          AND d.status = 'bundled'
        RETURNING d.*
        """,
        [c.source_event_id for c in carriers],
        [c.recipient_ref for c in carriers],
        [c.channel.value for c in carriers],
        status,
        now,
        error,
    )
    return [_delivery(r) for r in rows]


async def first_sent_of_alerts(
    conn: asyncpg.Connection, alerts: Sequence[tuple[str, str]], at: datetime
) -> set[str]:
    """Of these (alert id, campus) pairs, the alerts whose first accepted message this is
    (once per alert, even when several workers send its messages at the same moment)."""
    rows = await conn.fetch(
        """
        INSERT INTO alerts_first_delivered (alert_id, campus_id, delivered_at)
        SELECT DISTINCT ON (a) a, c, $3 FROM unnest($1::text[], $2::text[]) AS t(a, c)
        ON CONFLICT DO NOTHING RETURNING alert_id
        """,
        [a for a, _ in alerts],
        [c for _, c in alerts],
        at,
    )
    return {row["alert_id"] for row in rows}


async def mark_call_task(conn: asyncpg.Connection, delivery_id: int, now: datetime) -> None:
    await conn.execute(
        "UPDATE deliveries SET status = 'call_task', attempts = 1, finished_at = $2,"
        " lease_until = NULL WHERE id = $1 AND status = 'sending'",
        delivery_id,
        now,
    )


async def retry_later(
    conn: asyncpg.Connection, delivery_id: int, attempts: int, not_before: datetime, error: str
) -> None:
    await conn.execute(
        "UPDATE deliveries SET status = 'pending', attempts = $2, not_before = $3,"
        " lease_until = NULL, last_error = $4 WHERE id = $1 AND status = 'sending'",
        delivery_id,
        attempts,
        not_before,
        error,
    )


async def mark_failed(
    conn: asyncpg.Connection, delivery_id: int, attempts: int, error: str, now: datetime
) -> bool:
    status = await conn.execute(
        "UPDATE deliveries SET status = 'failed', attempts = $2, last_error = $3, finished_at = $4,"
        " lease_until = NULL WHERE id = $1 AND status IN ('sending', 'pending')",
        delivery_id,
        attempts,
        error,
        now,
    )
    return bool(status.endswith(" 1"))


async def cancel_family(
    conn: asyncpg.Connection, campus_id: str, student_ref: str, reason: str, now: datetime
) -> int:
    """Stop every family message of the student not yet sent (a withdrawn consent)."""
    status = await conn.execute(
        "UPDATE deliveries SET status = 'cancelled', last_error = $3, finished_at = $4,"
        " lease_until = NULL WHERE campus_id = $1 AND student_ref = $2"
        " AND recipient_kind = 'family' AND status IN ('pending', 'sending')",
        campus_id,
        student_ref,
        reason,
        now,
    )
    return int(status.split()[-1])


async def queue_depth(conn: asyncpg.Connection, now: datetime) -> tuple[int, float]:
    """Messages due or being sent, and the age in seconds of the oldest due one."""
    row = await conn.fetchrow(
        "SELECT count(*) AS depth, min(not_before) AS oldest FROM deliveries"
        " WHERE status IN ('pending', 'sending') AND not_before <= $1",
        now,
    )
    assert row is not None
    oldest = row["oldest"]
    return int(row["depth"]), max((now - oldest).total_seconds(), 0.0) if oldest else 0.0
