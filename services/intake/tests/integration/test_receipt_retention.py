"""Retention: receipts end a year after they last moved, never while their case is being
handled; idempotency keys end after a week; a census upload's row errors after 90 days and
its record after a year, never while it runs (the chore's statements on a real
PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from pydantic import ValidationError
from shouwang_intake.config import IntakeSettings
from shouwang_intake.service_layer.retention import retention_chore

DAYS = {"receipt_days": 365, "key_days": 7, "census_error_days": 90, "census_batch_days": 365}


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
        chore = retention_chore(pool, batch=1, **DAYS)

        turns = [await chore(), await chore(), await chore()]

        # A full batch asks for another turn at once; the oldest goes first.
        assert turns == [True, True, False]
        left = {r[0] for r in await pool.fetch("SELECT report_id FROM receipts")}
        assert left == {ids["old-in-hand"], ids["recent-closed"]}
        keys = {r[0] for r in await pool.fetch("SELECT idem_key FROM idempotency_keys")}
        assert keys == {"new-key"}
    finally:
        await pool.close()


async def test_census_row_errors_and_upload_records_outlive_no_retention(
    service_database: Any, caplog: pytest.LogCaptureFixture
) -> None:
    pool = await asyncpg.create_pool(await service_database("intake"), min_size=1, max_size=2)
    now = datetime.now(UTC)
    # name: (status, created, heartbeat, completed, row errors)
    uploads: dict[str, tuple[str, datetime, datetime | None, datetime | None, int]] = {
        "year-old": ("completed", now - timedelta(days=400), None, now - timedelta(days=400), 3),
        "term-old": ("completed", now - timedelta(days=100), None, now - timedelta(days=100), 2),
        "recent": ("failed", now - timedelta(days=10), None, now - timedelta(days=10), 1),
        # Cut off by a dying process long ago: it last beat then.
        "cut-off": ("processing", now - timedelta(days=400), now - timedelta(days=399), None, 1),
        # A long upload still running (it beats): never touched, however old its start.
        "running": ("processing", now - timedelta(days=400), now, None, 1),
    }
    ids = {name: uuid.uuid4() for name in uploads}
    try:
        for name, (status, created, beat, completed, errors) in uploads.items():
            await pool.execute(
                "INSERT INTO census_batches (batch_id, campus_id, submitted_by_ref,"
                " file_sha256, status, created_at, heartbeat_at, completed_at)"
                " VALUES ($1, 'demo', 'per_1', $2, $3, $4, $5, $6)",
                ids[name],
                name,
                status,
                created,
                beat,
                completed,
            )
            await pool.executemany(
                "INSERT INTO census_row_errors (batch_id, row_number, field, code, message,"
                " message_en) VALUES ($1, $2, 'student_no', 'unknown', '无法识别：张三',"
                " 'unknown: 张三')",
                [(ids[name], n) for n in range(2, 2 + errors)],
            )
        chore = retention_chore(pool, batch=2, **DAYS)
        caplog.set_level("INFO", logger="shouwang_intake.service_layer.retention")

        turns = [await chore()]
        while turns[-1]:
            assert len(turns) < 10, "the chore never finished"
            turns.append(await chore())

        # 6 row errors due, 2 a turn: at least three full turns, then one with less.
        assert len(turns) >= 4
        errors = await pool.fetch("SELECT batch_id FROM census_row_errors")
        assert {r["batch_id"] for r in errors} == {ids["recent"], ids["running"]}
        assert len(errors) == 2
        batches = {r["batch_id"] for r in await pool.fetch("SELECT batch_id FROM census_batches")}
        assert batches == {ids["term-old"], ids["recent"], ids["running"]}
        assert "张三" not in caplog.text
        assert "census row errors" in caplog.text
    finally:
        await pool.close()


def test_a_census_record_shorter_than_its_errors_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INTAKE_CENSUS_ERROR_DAYS", "120")
    monkeypatch.setenv("INTAKE_CENSUS_BATCH_DAYS", "100")
    with pytest.raises(ValidationError, match="census_batch_days must be at least"):
        IntakeSettings()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("INTAKE_RECEIPT_RETENTION_DAYS", "29"),
        ("INTAKE_IDEMPOTENCY_KEY_DAYS", "0"),
        ("INTAKE_CENSUS_ERROR_DAYS", "6"),
        ("INTAKE_CENSUS_BATCH_DAYS", "29"),
    ],
)
def test_a_retention_below_its_floor_is_refused(
    name: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=name.removeprefix("INTAKE_").lower()):
        IntakeSettings()
