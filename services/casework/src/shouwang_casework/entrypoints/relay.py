"""Background loops: the outbox relay, missed follow-up reminders, and the case gauges.

The relay publishes outbox rows in id order, waits until the broker acknowledged all of them
(acks=all), and only then marks them published, in one transaction. A crash anywhere in
between republishes the batch: at least once, with the same event ids, so consumers
deduplicate. One relay runs at a time (an advisory lock), because two relays working on
neighbouring batches could reorder one student's events.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import Any, cast

import asyncpg
from faststream.kafka import KafkaBroker
from shouwang_contracts.events.casework import CaseTransitioned
from shouwang_contracts.topics import PROCESSED_EVENT_MEMORY

from .. import metrics
from ..adapters.db import campus_transaction
from ..adapters.outbox import (
    OutboxRow,
    enable_relay,
    lock_unpublished,
    mark_published,
    oldest_unpublished_age,
    purge_published,
)
from ..adapters.queue import counts_by_state_and_severity
from ..bootstrap import Deps
from ..service_layer.care import remind_missed_follow_ups

logger = logging.getLogger(__name__)

# Any constant works; it names "the outbox relay" among casework's advisory locks.
RELAY_LOCK = 0x5357_4F42  # "SWOB"
PURGE_EVERY_SECONDS = 600.0


async def relay_once(pool: asyncpg.Pool, broker: KafkaBroker, batch: int) -> int:
    """Publish one batch of unpublished events; returns how many (0 when idle or not leader)."""
    async with pool.acquire() as proxy, proxy.transaction():
        conn = cast(asyncpg.Connection, proxy)
        if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", RELAY_LOCK):
            return 0
        await enable_relay(conn)
        rows = await lock_unpublished(conn, batch)
        metrics.OUTBOX_LAG.set(await oldest_unpublished_age(conn) if rows else 0.0)
        if not rows:
            return 0
        pending: list[asyncio.Future[Any]] = []
        for row in rows:
            # Sent in id order on one idempotent producer: per-partition order is kept.
            pending.append(
                await broker.publish(
                    row.payload,
                    row.topic,
                    key=row.key,
                    headers=row.headers,
                    no_confirm=True,
                )
            )
        await asyncio.gather(*pending)
        await mark_published(conn, [row.id for row in rows])
    for row in rows:
        metrics.OUTBOX_PUBLISHED.labels(row.topic).inc()
        _count_transition(row)
    return len(rows)


def _count_transition(row: OutboxRow) -> None:
    # Counted here, once the broker has the event, so a rolled-back change never counts.
    if row.headers.get("ce_type") != CaseTransitioned.EVENT_TYPE:
        return
    data = json.loads(row.payload).get("data", {})
    metrics.TRANSITIONS.labels(data.get("from_state", ""), data.get("to_state", "")).inc()


async def relay_outbox(deps: Deps) -> None:
    """Relay forever: drain while there is work, pause when idle, back off on errors."""
    settings = deps.settings
    delay = settings.relay_idle_seconds
    loop = asyncio.get_running_loop()
    next_purge = loop.time()
    while True:
        try:
            published = await relay_once(deps.pool, deps.broker, settings.relay_batch)
            delay = settings.relay_idle_seconds
            if loop.time() >= next_purge:
                await _purge(deps.pool, settings.outbox_keep_days)
                next_purge = loop.time() + PURGE_EVERY_SECONDS
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("outbox relay failed; retrying")
            published = 0
            delay = min(delay * 2, 10.0)
        if published < settings.relay_batch:
            await asyncio.sleep(delay)


async def _purge(pool: asyncpg.Pool, keep_days: int) -> None:
    async with pool.acquire() as proxy, proxy.transaction():
        conn = cast(asyncpg.Connection, proxy)
        await enable_relay(conn)
        purged = await purge_published(conn, keep_days)
    if purged:
        logger.info("purged %d published outbox events", purged)


async def follow_up_reminders(deps: Deps) -> None:
    """Flag missed follow-ups once per follow-up, campus by campus."""
    while True:
        for campus_id in deps.settings.campuses:
            try:
                async with campus_transaction(deps.pool, campus_id) as conn:
                    missed = await remind_missed_follow_ups(conn, deps.cipher)
                metrics.FOLLOW_UPS_MISSED.inc(missed)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("follow-up reminders failed for a campus")
        await asyncio.sleep(deps.settings.reminder_interval_seconds)


async def refresh_case_gauges(deps: Deps) -> None:
    """Keep the open-cases gauge current for the campuses this deployment serves."""
    while True:
        counts: list[tuple[str, str, str, int]] = []
        for campus_id in deps.settings.campuses:
            try:
                async with campus_transaction(deps.pool, campus_id) as conn:
                    rows = await counts_by_state_and_severity(conn)
                counts.extend((campus_id, state, severity, n) for state, severity, n in rows)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("case gauges failed for a campus")
        # Start from empty so a state that emptied out drops to nothing, not its last count.
        metrics.OPEN_CASES.clear()
        for campus_id, state, severity, n in counts:
            metrics.OPEN_CASES.labels(campus_id, state, severity).set(n)
        await asyncio.sleep(30)


async def forget_processed_events(deps: Deps, interval_seconds: float = 3600.0) -> None:
    """Hourly, per campus: forget consumed event ids Kafka could no longer redeliver."""
    while True:
        before = datetime.now(UTC) - PROCESSED_EVENT_MEMORY
        for campus_id in deps.settings.campuses:
            try:
                async with campus_transaction(deps.pool, campus_id) as conn:
                    await forget_processed_before(conn, before)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("forgetting processed events failed for a campus", exc_info=True)
        await asyncio.sleep(interval_seconds)


async def forget_processed_before(conn: asyncpg.Connection, before: datetime) -> int:
    """Delete the campus's processed-event marks older than `before`; returns how many."""
    status = await conn.execute("DELETE FROM processed_events WHERE processed_at < $1", before)
    return int(status.split()[-1])
