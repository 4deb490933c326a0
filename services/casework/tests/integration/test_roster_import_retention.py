"""Retention of roster import records: their row errors (学号 and cells quoted) are blanked
after 90 days, the records deleted after a year, the oldest first, in batches, per campus
(the chore on a real PostgreSQL, as the runtime role)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from shouwang_casework.adapters.db import campus_transaction
from shouwang_casework.config import CaseworkSettings
from shouwang_casework.service_layer.erasure import roster_import_chore

pytestmark = pytest.mark.integration

ERRORS = [{"row": 3, "field": "student_no", "message": "学号格式不正确：20240X0001"}]


async def _import(pool: asyncpg.Pool, campus_id: str, days_ago: int) -> uuid.UUID:
    key = uuid.uuid4()
    async with campus_transaction(pool, campus_id) as conn:
        await conn.execute(
            "INSERT INTO roster_imports (id, campus_id, kind, mode, file_name, file_sha256,"
            " status, counts, errors, actor_ref, at) VALUES ($1, $2, 'students', 'snapshot',"
            " 'roster.csv', 'h', 'applied', '{\"rejected\": 1}', $3::jsonb, 'per_admin', $4)",
            key,
            campus_id,
            json.dumps(ERRORS, ensure_ascii=False),
            datetime.now(UTC) - timedelta(days=days_ago),
        )
    return key


async def test_roster_import_errors_and_records_outlive_no_retention(
    pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    campus, other = (f"imp-{uuid.uuid4().hex[:6]}" for _ in range(2))
    ages = {"year": 400, "year2": 380, "term": 100, "recent": 10}
    ids = {name: await _import(pool, campus, days) for name, days in ages.items()}
    elsewhere = await _import(pool, other, 400)  # a campus this deployment does not serve
    chore = roster_import_chore(pool, [campus], errors_days=90, days=365, batch=2)
    caplog.set_level("INFO", logger="shouwang_casework.service_layer.erasure")

    turns = [await chore()]
    while turns[-1]:
        assert len(turns) < 10, "the chore never finished"
        turns.append(await chore())

    # Three records' errors are due and two records: a full batch asks for another turn.
    assert turns == [True, False]
    async with campus_transaction(pool, campus) as conn:
        rows = await conn.fetch("SELECT id, errors, counts FROM roster_imports")
    kept = {r["id"]: json.loads(r["errors"]) for r in rows}
    assert kept == {ids["term"]: [], ids["recent"]: ERRORS}
    assert all(json.loads(r["counts"]) == {"rejected": 1} for r in rows)  # counts stay
    async with campus_transaction(pool, other) as conn:
        assert await conn.fetchval("SELECT id FROM roster_imports") == elsewhere
    assert "20240X0001" not in caplog.text
    assert "2 deleted" in caplog.text


def test_an_import_record_shorter_than_its_errors_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CASEWORK_ROSTER_IMPORT_ERROR_DAYS", "120")
    monkeypatch.setenv("CASEWORK_ROSTER_IMPORT_DAYS", "100")
    with pytest.raises(ValueError, match="roster_import_days must be at least"):
        CaseworkSettings()
