"""Retention: receipts end a year after they last moved, never while their case is being
handled; idempotency keys end after a week (the chore's statements on a real PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from pydantic import ValidationError
from shouwang_intake.config import IntakeSettings
from shouwang_intake.service_layer.retention import retention_chore


async def test_ended_receipts_and_old_keys_go_and_a_case_in_hand_keeps_its_receipt(
    service_database: Any,
) -> None:
    pool = await asyncpg.create_pool(await service_database("intake"), min_size=1, max_size=2)
    try:
        now = datetime.now(UTC)
        old, recent = now - timedelta(days=400), now - timedelta(days=30)
        rows = {
            "old-closed": ("closed", old),
            "old-never-taken-up": ("received", old - timedelta(days=1)),
            "old-in-hand": ("in_progress", old),
            "recent-closed": ("closed", recent),
        }
        ids = {name: uuid.uuid4() for name in rows}
        for name, (status, at) in rows.items():
            await pool.execute(
                "INSERT INTO receipts (report_id, campus_id, reporter_ref, kind, status,"
                " received_at, updated_at) VALUES ($1, 'demo', 'per_1', 'report', $2, $3, $3)",
                ids[name],
                status,
                at,
            )
        for key, made in (("old-key", now - timedelta(days=8)), ("new-key", now)):
            await pool.execute(
                "INSERT INTO idempotency_keys (campus_id, principal_ref, idem_key, fingerprint,"
                " resource_id, state, created_at) VALUES ('demo', 'per_1', $1, 'f', $2,"
                " 'completed', $3)",
                key,
                uuid.uuid4(),
                made,
            )
        chore = retention_chore(pool, receipt_days=365, key_days=7, batch=1)

        turns = [await chore(), await chore(), await chore()]

        # A full batch asks for another turn at once; the oldest goes first.
        assert turns == [True, True, False]
        left = {r[0] for r in await pool.fetch("SELECT report_id FROM receipts")}
        assert left == {ids["old-in-hand"], ids["recent-closed"]}
        keys = {r[0] for r in await pool.fetch("SELECT idem_key FROM idempotency_keys")}
        assert keys == {"new-key"}
    finally:
        await pool.close()


@pytest.mark.parametrize(
    ("name", "value"),
    [("INTAKE_RECEIPT_RETENTION_DAYS", "29"), ("INTAKE_IDEMPOTENCY_KEY_DAYS", "0")],
)
def test_a_retention_below_its_floor_is_refused(
    name: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=name.removeprefix("INTAKE_").lower()):
        IntakeSettings()
