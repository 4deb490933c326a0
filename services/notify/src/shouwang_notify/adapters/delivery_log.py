"""The delivery log the desk reads: a campus's messages, newest first, by status or alert.

It reads the delivery queue's rows (adapters/queue.py) but never changes them, and never
returns an address or a text, only what became of each message.
"""

from __future__ import annotations

import asyncpg

_LOG = (
    "SELECT id, notification_id::text AS notification_id, source_event_id, source_event_type,"
    " alert_id, case_id, recipient_kind, recipient_role, channel, status, attempts, last_error,"
    " created_at, finished_at FROM deliveries WHERE campus_id = $1"
    " AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR alert_id = $3)"
    " AND ($4::bigint IS NULL OR id < $4) ORDER BY id DESC LIMIT $5"
)


async def delivery_log(
    conn: asyncpg.Connection,
    campus_id: str,
    *,
    status: str | None,
    alert_id: str | None,
    before: int | None,
    limit: int,
) -> list[asyncpg.Record]:
    """The campus's messages, newest first, without addresses or texts."""
    return list(await conn.fetch(_LOG, campus_id, status, alert_id, before, limit))
