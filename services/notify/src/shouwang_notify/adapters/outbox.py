"""Notification events into the outbox, in the transaction of the state change."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

import asyncpg
from shouwang_contracts.envelope import Envelope, Payload

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
