"""Receipts commit without waiting for the WAL flush, and are still read back at once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
from shouwang_intake.adapters.store import IntakeStore, create_receipts_pool


async def test_receipts_commit_asynchronously_and_are_visible_at_once(
    service_database: Any,
) -> None:
    dsn = await service_database("intake")
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    receipts_pool = await create_receipts_pool(dsn)
    try:
        store = IntakeStore(pool, receipt_gather_seconds=0.002, receipts_pool=receipts_pool)
        report_id = uuid.uuid4()
        await store.record_receipt(
            report_id=report_id,
            campus_id="demo",
            reporter_ref="per_test",
            kind="report",
            received_at=datetime.now(UTC),
        )
        # Read through the other pool: committed means visible to every session.
        receipt = await store.receipt("demo", report_id)
        setting = "SELECT setting, source FROM pg_settings WHERE name = 'synchronous_commit'"
        receipts_commit = tuple(await receipts_pool.fetchrow(setting))
        others_commit = tuple(await pool.fetchrow(setting))
    finally:
        await receipts_pool.close()
        await pool.close()
    assert receipt is not None
    assert receipt.status == "received"
    # Set by the receipts session itself, whatever the server's configuration says (the
    # test server runs without synchronous commits altogether).
    assert receipts_commit == ("off", "client")
    # Keys, census batches and everything else keep the server's setting.
    assert others_commit[1] != "client"
