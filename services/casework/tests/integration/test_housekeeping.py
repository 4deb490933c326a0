"""Casework forgets consumed event ids campus by campus, once Kafka could not redeliver them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from shouwang_casework.adapters.db import campus_transaction
from shouwang_contracts.topics import PROCESSED_EVENT_MEMORY
from shouwang_servicekit.processed import ProcessedEvents

pytestmark = pytest.mark.integration


async def test_old_marks_go_for_the_campus_swept_and_no_other(service_database: Any) -> None:
    pool = await asyncpg.create_pool(await service_database("casework"), min_size=1, max_size=2)
    now = datetime.now(UTC)
    old, recent = now - PROCESSED_EVENT_MEMORY - timedelta(days=1), now - timedelta(days=1)
    try:
        for campus_id, rows in (("a", [("e1", old), ("e2", recent)]), ("b", [("e3", old)])):
            async with campus_transaction(pool, campus_id) as conn:
                await conn.executemany(
                    "INSERT INTO processed_events (consumer, event_id, campus_id, processed_at)"
                    " VALUES ('c', $1, $2, $3)",
                    [(event_id, campus_id, at) for event_id, at in rows],
                )
        # The chore bootstrap runs hourly, here for campus a alone.
        processed = ProcessedEvents(
            pool, schema="casework", campus_setting="shouwang.campus_id", campuses=lambda: ["a"]
        )
        gone = await processed.forget_before(now - PROCESSED_EVENT_MEMORY)
        left = {}
        for campus_id in ("a", "b"):
            async with campus_transaction(pool, campus_id) as conn:
                left[campus_id] = {
                    r["event_id"] for r in await conn.fetch("SELECT event_id FROM processed_events")
                }
    finally:
        await pool.close()
    assert gone == 1
    assert left == {"a": {"e2"}, "b": {"e3"}}
