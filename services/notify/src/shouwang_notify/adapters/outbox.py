"""Notification events into the outbox, in the transaction of the state change, and the
kit's relay that publishes them in id order."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from faststream.kafka import KafkaBroker
from shouwang_contracts.envelope import Envelope, Payload
from shouwang_servicekit.outbox import (
    OutboxLane,
    OutboxRecord,
    OutboxRelay,
    RelayObserver,
)
from shouwang_servicekit.outbox_table import OutboxTable

from .. import metrics

SOURCE = "/shouwang/notify"
# The relay reads every campus's rows: row-level security lets it through with this setting
# (see migrations/0001_initial.sql). Published rows are kept a while for inspection.
TABLE = OutboxTable(
    schema="notify",
    value_column="payload",
    keep_published=True,
    relay_setting="shouwang.all_campuses",
    campus_column="campus_id",
    # Its insert trigger notifies this channel at commit (migrations/0003_outbox_notify.sql).
    channel="shouwang_notify_outbox",
)
LANE = "events"
# Any constant works; it names "the outbox relay" among notify's advisory locks.
RELAY_LOCK = 0x4E4F_5446  # "NOTF"


@dataclass(frozen=True, slots=True)
class OutgoingEvent:
    """A notification event to publish about one student."""

    payload: Payload
    campus_id: str
    student_ref: str
    time: datetime | None = None
    event_id: str | None = None

    def envelope(self) -> Envelope[Payload]:
        return Envelope.wrap(
            self.payload,
            source=SOURCE,
            campus_id=self.campus_id,
            subject=self.student_ref,
            time=self.time,
            event_id=self.event_id or str(uuid.uuid4()),
        )


async def enqueue_event(
    conn: asyncpg.Connection,
    payload: Payload,
    *,
    campus_id: str,
    student_ref: str,
    time: datetime | None = None,
    event_id: str | None = None,
) -> Envelope[Payload]:
    envelope = OutgoingEvent(payload, campus_id, student_ref, time, event_id).envelope()
    await TABLE.enqueue(conn, [envelope])
    return envelope


async def enqueue_events(conn: asyncpg.Connection, events: Sequence[OutgoingEvent]) -> None:
    """Many events in one round of statements (a batch of delivery outcomes)."""
    await TABLE.enqueue(conn, [event.envelope() for event in events])


class _Published(RelayObserver):
    def published(self, lane: str, records: Sequence[OutboxRecord]) -> None:
        metrics.OUTBOX_PUBLISHED.inc(len(records))

    def listening(self, lane: str, listening: bool) -> None:
        metrics.OUTBOX_LISTENING.labels(lane).set(1 if listening else 0)


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
