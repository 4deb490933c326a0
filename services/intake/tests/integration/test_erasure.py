"""Intake's part of an erasure on request against a real PostgreSQL: the student's receipts
(written with the student's pseudonym, or learnt from a case event for older ones) and their
idempotency keys go, once; a report after the request and another student's stay."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from shouwang_intake.adapters.erasure import ReceiptErasure
from shouwang_intake.adapters.store import IntakeStore, ReceiptAdvance


async def test_an_erasure_ends_the_students_receipts_and_their_keys_once(
    service_database: Any,
) -> None:
    pool = await asyncpg.create_pool(await service_database("intake"), min_size=1, max_size=2)
    try:
        store = IntakeStore(pool)
        now = datetime.now(UTC)
        ids = {name: uuid.uuid4() for name in ("keyed", "older", "later", "other")}
        await store.claim_key("demo", "per_1", "k-1", b"f", ids["keyed"])
        for name, student, at in (
            ("keyed", "stu_1", now - timedelta(days=9)),
            ("older", None, now - timedelta(days=400)),  # written before receipts named one
            ("later", "stu_1", now + timedelta(seconds=5)),  # a report after the request
            ("other", "stu_2", now - timedelta(days=9)),
        ):
            await store.record_receipt(
                report_id=ids[name],
                campus_id="demo",
                reporter_ref="per_1",
                kind="report",
                received_at=at,
                idempotency=("k-1", {"id": str(ids[name])}) if name == "keyed" else None,
                student_ref=student,
            )
        # The older receipt was attached before; its case's closing names the student.
        await store.advance_receipts(
            "ev-opened", case_id="case-1", status="in_progress", report_ids=[str(ids["older"])]
        )
        await store.advance_receipts_many(
            [ReceiptAdvance("ev-closed", "case-1", "closed", [], "stu_1")]
        )
        erasure = ReceiptErasure("ev-erased", "demo", "stu_1", now)

        first = await store.erase_student_receipts(erasure)
        again = await store.erase_student_receipts(erasure)

        assert first is not None
        assert (first.receipts, first.idempotency_keys) == (2, 1)
        assert again is None
        left = {r[0] for r in await pool.fetch("SELECT report_id FROM receipts")}
        assert left == {ids["later"], ids["other"]}
        assert await pool.fetchval("SELECT count(*) FROM idempotency_keys") == 0
    finally:
        await pool.close()
