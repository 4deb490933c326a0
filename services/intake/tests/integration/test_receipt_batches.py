"""A batch of case events moves receipts exactly as the same events one at a time do."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
from shouwang_intake.adapters.store import IntakeStore, ReceiptAdvance, create_receipts_pool


async def _receipts(store: IntakeStore, reporter: str, count: int) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(count)]
    for report_id in ids:
        await store.record_receipt(
            report_id=report_id,
            campus_id="demo",
            reporter_ref=reporter,
            kind="report",
            received_at=datetime.now(UTC),
        )
    return ids


def _events(ids: list[uuid.UUID]) -> list[ReceiptAdvance]:
    """Two cases: the first opened, closed, then its opening again (a redelivery) and a late
    attachment (which must not reopen it); the second opened with the third report."""
    first, second = f"case-{uuid.uuid4()}", f"case-{uuid.uuid4()}"
    opened = ReceiptAdvance(f"ev-{uuid.uuid4()}", first, "in_progress", [str(ids[0])])
    return [
        opened,
        ReceiptAdvance(f"ev-{uuid.uuid4()}", second, "in_progress", [str(ids[2])]),
        ReceiptAdvance(f"ev-{uuid.uuid4()}", first, "closed", []),
        opened,
        ReceiptAdvance(f"ev-{uuid.uuid4()}", first, "in_progress", [str(ids[1])]),
    ]


async def test_a_batch_of_case_events_has_the_outcome_of_the_same_events_one_by_one(
    service_database: Any,
) -> None:
    dsn = await service_database("intake")
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    receipts_pool = await create_receipts_pool(dsn)
    try:
        store = IntakeStore(pool, receipt_gather_seconds=0.002, receipts_pool=receipts_pool)
        single_ids = await _receipts(store, "per_single", 3)
        batch_ids = await _receipts(store, "per_batch", 3)
        single = [
            await store.advance_receipts(
                e.event_id, case_id=e.case_id, status=e.status, report_ids=e.report_ids
            )
            for e in _events(single_ids)
        ]
        batched = await store.advance_receipts_many(_events(batch_ids))
        one_by_one = [(await store.receipt("demo", r)) for r in single_ids]
        together = [(await store.receipt("demo", r)) for r in batch_ids]
    finally:
        await receipts_pool.close()
        await pool.close()
    assert single == batched == [True, True, True, False, True]
    assert [r.status for r in one_by_one if r] == [r.status for r in together if r]
    # The redelivered opening does not reopen the closed receipt; the late attachment moves
    # only its own report forward.
    assert [r.status for r in together if r] == ["closed", "in_progress", "in_progress"]


async def test_a_case_event_moves_receipts_in_one_statement_and_a_redelivery_in_none_more(
    service_database: Any,
) -> None:
    # The cases topic carries a case event or more per report: the claim, the reports'
    # link to their case and the status were three round trips each, now one.
    dsn = await service_database("intake")
    sent: list[str] = []

    async def counted(conn: asyncpg.Connection) -> None:
        conn.add_query_logger(lambda logged: sent.append(logged.query))

    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=1, init=counted)
    receipts_pool = await create_receipts_pool(dsn)
    try:
        store = IntakeStore(pool, receipt_gather_seconds=0.002, receipts_pool=receipts_pool)
        ids = await _receipts(store, "per_count", 3)
        events = _events(ids)
        await store.advance_receipts_many(events[:1])  # asyncpg learns the types once
        sent.clear()
        assert await store.advance_receipts_many(events[1:]) == [True, True, False, True]
        work = [q for q in sent if "receipts" in q or "processed_events" in q]
        assert len(work) == 4, work
        statuses = [(await store.receipt("demo", r)) for r in ids]
    finally:
        await receipts_pool.close()
        await pool.close()
    assert [r.status for r in statuses if r] == ["closed", "in_progress", "in_progress"]
