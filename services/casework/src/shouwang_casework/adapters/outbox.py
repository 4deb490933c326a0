"""The transactional outbox, and the inbox that makes consumers idempotent.

Casework never publishes to Kafka from a request or a handler. It writes the event into
`outbox` in the same transaction as the state change it describes; the kit's relay
(`outbox_relay`) publishes unpublished rows in id order and marks them, and keeps them
`CASEWORK_OUTBOX_KEEP_DAYS` for inspection. So an event exists exactly when its state change
committed, and a crash at any moment loses nothing: the relay publishes at least once, and
consumers deduplicate by the envelope id.

`claim_event` is the other half: a consumer records the id of every event it applied in
`processed_events`, in the transaction of its effects, and skips ids it has seen.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import asyncpg
from faststream.kafka import KafkaBroker
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events.casework import CaseTransitioned
from shouwang_servicekit.outbox import (
    OutboxLane,
    OutboxRecord,
    OutboxRelay,
    RelayObserver,
)
from shouwang_servicekit.outbox_table import OutboxTable

from .. import metrics

# The relay reads every campus's rows; RLS on `outbox` lets it through only with this
# setting (see migrations/0002_cases.sql). Nothing but the relay sets it.
TABLE = OutboxTable(
    schema="casework",
    value_column="payload",
    keep_published=True,
    relay_setting="shouwang.outbox_relay",
    campus_column="campus_id",
    # Its insert trigger notifies this channel at commit (migrations/0007_outbox_notify.sql).
    channel="shouwang_casework_outbox",
)
LANE = "events"
# Any constant works; it names "the outbox relay" among casework's advisory locks.
RELAY_LOCK = 0x5357_4F42  # "SWOB"


async def enqueue(conn: asyncpg.Connection, envelope: Envelope[Any]) -> None:
    """Write `envelope` into the outbox inside the caller's transaction.

    Call it in the same transaction as the state change the event describes (for example
    within `campus_transaction`); it is published after commit, in id order per student.
    Enqueueing the same envelope id twice is a no-op, so a retried handler cannot double it.
    """
    await TABLE.enqueue(conn, [envelope])


async def enqueue_many(conn: asyncpg.Connection, envelopes: list[Envelope[Any]]) -> None:
    """`enqueue` for many envelopes in one pipelined statement (ids ascend in list order)."""
    await TABLE.enqueue(conn, envelopes)


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


async def claim_events(
    conn: asyncpg.Connection, *, consumer: str, campus_id: str, event_ids: Sequence[str]
) -> set[str]:
    """`claim_event` for many events of one campus in one statement: the ids claimed now
    (the others were applied before).

    The rows are inserted in the order of their ids: two transactions claiming some of the
    same ids (a redelivery while the first is still running) wait for each other in one
    order, never in a cycle."""
    rows = await conn.fetch(
        """
        INSERT INTO processed_events (consumer, event_id, campus_id, processed_at)
        SELECT $1, event_id, $2, now() FROM unnest($3::text[]) AS event_id ORDER BY event_id
        ON CONFLICT (consumer, event_id) DO NOTHING
        RETURNING event_id
        """,
        consumer,
        campus_id,
        sorted(set(event_ids)),  # one row per id: a second copy in a batch is a duplicate
    )
    return {row["event_id"] for row in rows}


class _Published(RelayObserver):
    """The outbox's metrics, counted once the broker has the events (a rolled-back change
    never counts)."""

    def published(self, lane: str, records: Sequence[OutboxRecord]) -> None:
        metrics.OUTBOX_LAG.set(records[0].age_seconds)
        for record in records:
            metrics.OUTBOX_PUBLISHED.labels(record.topic).inc()
            if record.headers.get("ce_type") == CaseTransitioned.EVENT_TYPE:
                data = json.loads(record.value).get("data", {})
                metrics.TRANSITIONS.labels(
                    data.get("from_state", ""), data.get("to_state", "")
                ).inc()

    def idle(self, lane: str) -> None:
        metrics.OUTBOX_LAG.set(0.0)

    def listening(self, lane: str, listening: bool) -> None:
        metrics.OUTBOX_LISTENING.labels(lane).set(1 if listening else 0)


def outbox_relay(
    pool: asyncpg.Pool, publisher: KafkaBroker, *, batch: int, poll_seconds: float
) -> OutboxRelay:
    """The relay of casework's outbox: one lane, every campus's events in one id order."""
    return OutboxRelay(
        pool,
        TABLE,
        {LANE: OutboxLane(publisher, RELAY_LOCK)},
        batch=batch,
        poll_seconds=poll_seconds,
        observer=_Published(),
    )
