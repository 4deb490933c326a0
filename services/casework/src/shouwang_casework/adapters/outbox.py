"""The transactional outbox, and the inbox that makes consumers idempotent.

Casework never publishes to Kafka from a request or a handler. It writes the event into
`outbox` in the same transaction as the state change it describes; the relay
(`entrypoints/relay.py`) publishes unpublished rows in id order and marks them. So an event
exists exactly when its state change committed, and a crash at any moment loses nothing:
the relay publishes at least once, and consumers deduplicate by the envelope id.

`claim_event` is the other half: a consumer records the id of every event it applied in
`processed_events`, in the transaction of its effects, and skips ids it has seen.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from shouwang_contracts.envelope import Envelope

# The relay reads every campus's rows; RLS on `outbox` lets it through only with this
# setting (see migrations/0002_cases.sql). Nothing but the relay sets it.
RELAY_SETTING = "shouwang.outbox_relay"


_INSERT = """
    INSERT INTO outbox (campus_id, event_id, topic, key, payload, headers, created_at)
    VALUES ($1, $2, $3, $4, $5, $6::jsonb, now())
    ON CONFLICT (event_id) DO NOTHING
"""


def _row(envelope: Envelope[Any]) -> tuple[Any, ...]:
    return (
        envelope.campus_id,
        uuid.UUID(envelope.id),
        envelope.topic,
        envelope.key,
        envelope.to_bytes(),
        json.dumps(envelope.headers()),
    )


async def enqueue(conn: asyncpg.Connection, envelope: Envelope[Any]) -> None:
    """Write `envelope` into the outbox inside the caller's transaction.

    Call it in the same transaction as the state change the event describes (for example
    within `campus_transaction`); it is published after commit, in id order per student.
    Enqueueing the same envelope id twice is a no-op, so a retried handler cannot double it.
    """
    await conn.execute(_INSERT, *_row(envelope))


async def enqueue_many(conn: asyncpg.Connection, envelopes: list[Envelope[Any]]) -> None:
    """`enqueue` for many envelopes in one pipelined statement (ids ascend in list order)."""
    if envelopes:
        await conn.executemany(_INSERT, [_row(envelope) for envelope in envelopes])


async def claim_event(
    conn: asyncpg.Connection, *, consumer: str, event_id: str, campus_id: str
) -> bool:
    """Record that `consumer` applies `event_id` now; False when it was applied before.

    Call it first in the transaction of the effects: if that transaction rolls back, the
    claim goes with it and a redelivery applies the event again.
    """
    inserted = await conn.fetchval(
        """
        INSERT INTO processed_events (consumer, event_id, campus_id, processed_at)
        VALUES ($1, $2, $3, now())
        ON CONFLICT (consumer, event_id) DO NOTHING
        RETURNING true
        """,
        consumer,
        event_id,
        campus_id,
    )
    return bool(inserted)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One event waiting to be published."""

    id: int
    event_id: uuid.UUID
    topic: str
    key: bytes
    payload: bytes
    headers: dict[str, str]
    created_at: datetime


async def lock_unpublished(conn: asyncpg.Connection, limit: int) -> list[OutboxRow]:
    """The oldest unpublished rows, locked for this transaction, skipping rows another relay holds.

    Call within a transaction that has `RELAY_SETTING` on (see `relay_transaction`).
    """
    rows = await conn.fetch(
        """
        SELECT id, event_id, topic, key, payload, headers, created_at
        FROM outbox
        WHERE published_at IS NULL
        ORDER BY id
        LIMIT $1
        FOR UPDATE SKIP LOCKED
        """,
        limit,
    )
    return [
        OutboxRow(
            id=row["id"],
            event_id=row["event_id"],
            topic=row["topic"],
            key=bytes(row["key"]),
            payload=bytes(row["payload"]),
            headers=json.loads(row["headers"]),
            created_at=row["created_at"],
        )
        for row in rows
    ]


async def mark_published(conn: asyncpg.Connection, ids: list[int]) -> None:
    """Mark rows as published (after the broker acknowledged every one of them)."""
    await conn.execute("UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])", ids)


async def oldest_unpublished_age(conn: asyncpg.Connection) -> float:
    """Seconds the oldest unpublished event has waited (0 when none): the outbox lag."""
    age = await conn.fetchval(
        "SELECT extract(epoch FROM now() - min(created_at)) FROM outbox WHERE published_at IS NULL"
    )
    return float(age or 0.0)


async def purge_published(conn: asyncpg.Connection, older_than_days: int) -> int:
    """Delete events published more than `older_than_days` ago; returns how many.

    Kafka holds them from then on; the outbox only needs what is not yet published.
    """
    status = await conn.execute(
        "DELETE FROM outbox WHERE published_at < now() - make_interval(days => $1)",
        older_than_days,
    )
    return int(status.rsplit(" ", 1)[1])


async def enable_relay(conn: asyncpg.Connection) -> None:
    """Let this transaction see every campus's outbox rows (the relay only)."""
    await conn.execute("SELECT set_config($1, 'on', true)", RELAY_SETTING)
