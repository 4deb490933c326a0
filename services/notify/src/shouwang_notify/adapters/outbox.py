"""Notification events into the outbox, in the transaction of the state change, and the
kit's relay that publishes them in id order."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg
from faststream.kafka import KafkaBroker
from shouwang_contracts.envelope import Envelope, Payload
from shouwang_servicekit.outbox import (
    OutboxLane,
    OutboxRecord,
    OutboxRelay,
    OutboxTable,
    RelayObserver,
)

from .. import metrics

SOURCE = "/shouwang/notify"


async def enqueue_event(
    conn: asyncpg.Connection,
    payload: Payload,
    *,
    campus_id: str,
    student_ref: str,
    time: datetime | None = None,
    event_id: str | None = None,
) -> Envelope[Payload]:
    envelope: Envelope[Payload] = Envelope.wrap(
        payload,
        source=SOURCE,
        campus_id=campus_id,
        subject=student_ref,
        time=time,
        event_id=event_id or str(uuid.uuid4()),
    )
    await conn.execute(
        "INSERT INTO outbox (campus_id, event_id, topic, key, payload, headers)"
        " VALUES ($1, $2, $3, $4, $5, $6::jsonb) ON CONFLICT (event_id) DO NOTHING",
        campus_id,
        uuid.UUID(envelope.id),
        envelope.topic,
        envelope.key,
        envelope.to_bytes(),
        json.dumps(envelope.headers()),
    )
    return envelope


# The relay reads every campus's rows: row-level security lets it through with this setting
# (see migrations/0001_initial.sql). Published rows are kept a while for inspection.
TABLE = OutboxTable(
    schema="notify",
    value_column="payload",
    keep_published=True,
    relay_setting="shouwang.all_campuses",
)
LANE = "events"
# Any constant works; it names "the outbox relay" among notify's advisory locks.
RELAY_LOCK = 0x4E4F_5446  # "NOTF"


class _Published(RelayObserver):
    def published(self, lane: str, records: Sequence[OutboxRecord]) -> None:
        metrics.OUTBOX_PUBLISHED.inc(len(records))


def outbox_relay(
    pool: asyncpg.Pool, broker: KafkaBroker, *, batch: int, poll_seconds: float
) -> OutboxRelay:
    """The relay of notify's outbox (one lane: notification events)."""
    return OutboxRelay(
        pool,
        TABLE,
        {LANE: OutboxLane(broker, RELAY_LOCK)},
        batch=batch,
        poll_seconds=poll_seconds,
        observer=_Published(),
    )
