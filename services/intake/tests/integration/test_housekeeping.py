"""Intake forgets consumed event ids once Kafka could no longer redeliver them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from shouwang_contracts.topics import PROCESSED_EVENT_MEMORY
from shouwang_servicekit.processed import ProcessedEvents


async def test_processed_event_ids_older_than_the_memory_are_forgotten(
    service_database: Any,
) -> None:
    pool = await asyncpg.create_pool(await service_database("intake"), min_size=1, max_size=2)
    try:
        now = datetime.now(UTC)
        await pool.executemany(
            "INSERT INTO processed_events (event_id, processed_at) VALUES ($1, $2)",
            [
                ("old", now - PROCESSED_EVENT_MEMORY - timedelta(days=1)),
                ("recent", now - timedelta(days=1)),
            ],
        )
        # The chore bootstrap runs hourly, on intake's own table.
        gone = await ProcessedEvents(pool, schema="intake").forget_before(
            now - PROCESSED_EVENT_MEMORY
        )
        kept = {r["event_id"] for r in await pool.fetch("SELECT event_id FROM processed_events")}
    finally:
        await pool.close()
    assert gone == 1
    assert kept == {"recent"}
