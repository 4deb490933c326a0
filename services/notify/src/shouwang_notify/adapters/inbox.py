"""The alert inbox: alerts off Kafka, waiting to be planned, the gravest first.

`land` records a batch of alert events and claims their ids (`processed_events`) in the
consumer's transaction, so a redelivered event lands once; `take` hands the gravest waiting
alerts to one planner (FOR UPDATE SKIP LOCKED, replicas share the inbox); `remove` deletes
them in the transaction that queued their messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

CONSUMER = "notify.alerts"


@dataclass(frozen=True, slots=True)
class Landing:
    """An alert event to land: its id, type (for metrics), campus, priority and bytes."""

    event_id: str
    event_type: str
    campus_id: str
    priority: int
    event: bytes


@dataclass(frozen=True, slots=True)
class Waiting:
    """An alert event a planner took from the inbox."""

    id: int
    event_id: str
    event: bytes
    attempts: int


async def land(conn: asyncpg.Connection, alerts: Sequence[Landing]) -> set[str]:
    """Land the alerts not seen before; returns the ids of those that landed now."""
    unique = list({a.event_id: a for a in alerts}.values())
    if not unique:
        return set()
    rows = await conn.fetch(
        """
        WITH incoming AS (
            SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bytea[])
                AS t(event_id, campus_id, priority, event)
        ), claimed AS (
            INSERT INTO processed_events (consumer, event_id, campus_id)
            SELECT $5, event_id, campus_id FROM incoming
            ON CONFLICT DO NOTHING
            RETURNING event_id
        )
        INSERT INTO alert_inbox (event_id, campus_id, priority, event)
        SELECT i.event_id, i.campus_id, i.priority, i.event
        FROM incoming i JOIN claimed c ON c.event_id = i.event_id
        RETURNING event_id
        """,
        [a.event_id for a in unique],
        [a.campus_id for a in unique],
        [a.priority for a in unique],
        [a.event for a in unique],
        CONSUMER,
    )
    return {row["event_id"] for row in rows}


async def take(
    conn: asyncpg.Connection, *, min_priority: int, max_priority: int, limit: int, now: datetime
) -> list[Waiting]:
    """The gravest due alerts (at most `limit`, priorities `min_priority` to `max_priority`),
    locked for this transaction."""
    rows = await conn.fetch(
        "SELECT id, event_id, event, attempts FROM alert_inbox"
        " WHERE priority BETWEEN $1 AND $2 AND not_before <= $3"
        " ORDER BY priority, id LIMIT $4 FOR UPDATE SKIP LOCKED",
        min_priority,
        max_priority,
        now,
        limit,
    )
    return [
        Waiting(row["id"], row["event_id"], bytes(row["event"]), row["attempts"]) for row in rows
    ]


async def retake(conn: asyncpg.Connection, inbox_id: int) -> bool:
    """Lock one alert a planner took before, unless it was planned or taken since."""
    found = await conn.fetchval(
        "SELECT id FROM alert_inbox WHERE id = $1 FOR UPDATE SKIP LOCKED", inbox_id
    )
    return found is not None


async def remove(conn: asyncpg.Connection, ids: Sequence[int]) -> None:
    await conn.execute("DELETE FROM alert_inbox WHERE id = ANY($1::bigint[])", list(ids))


async def postpone(
    conn: asyncpg.Connection, waiting: Waiting, not_before: datetime, error: str
) -> None:
    """Planning failed: try again at `not_before` (the alert is never dropped)."""
    await conn.execute(
        "UPDATE alert_inbox SET attempts = attempts + 1, not_before = $2, last_error = $3"
        " WHERE id = $1",
        waiting.id,
        not_before,
        error,
    )


async def depth(conn: asyncpg.Connection, now: datetime) -> tuple[int, float]:
    """Alerts waiting to be planned, and the age in seconds of the oldest."""
    row = await conn.fetchrow("SELECT count(*) AS n, min(received_at) AS oldest FROM alert_inbox")
    assert row is not None
    oldest = row["oldest"]
    return int(row["n"]), max((now - oldest).total_seconds(), 0.0) if oldest else 0.0
