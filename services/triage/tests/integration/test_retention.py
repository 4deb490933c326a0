"""Retention of grades against a real PostgreSQL: housekeeping deletes a grade graded before
every policy window, in batches, the oldest first, never while the student's matter is open
(an alert waiting, or one acknowledged whose case is open), and never a recent grade."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import asyncpg
import pytest
from shouwang_triage.adapters.policy_file import load_policy
from shouwang_triage.config import TriageSettings
from shouwang_triage.entrypoints.scheduler import housekeeping

pytestmark = pytest.mark.integration

POLICY = load_policy()


async def _grade(conn: asyncpg.Connection, student: str, at: datetime) -> None:
    await conn.execute(
        "INSERT INTO grades (campus_id, student_ref, severity, reasons, policy_version,"
        " assessment_id, graded_at) VALUES ('c1', $1, 'moderate', '[]', 'p1', $2, $3)",
        student,
        f"as-{student}",
        at,
    )


async def _alert(
    conn: asyncpg.Connection, student: str, at: datetime, status: str, *, held: bool
) -> None:
    await conn.execute(
        "INSERT INTO alerts (alert_id, campus_id, student_ref, assessment_id, severity,"
        " owner_role, ack_deadline, status, raised_at, policy_version, held)"
        " VALUES ($1, 'c1', $2, $3, 'moderate', 'residence_counselor', $4, $5, $4, 'p1', $6)",
        f"al-{student}",
        student,
        f"as-{student}",
        at,
        status,
        held,
    )


async def test_grades_outlive_no_retention(
    service_database: Any, caplog: pytest.LogCaptureFixture
) -> None:
    pool = await asyncpg.create_pool(await service_database("triage"), min_size=1, max_size=2)
    assert pool is not None
    now = datetime.now(UTC)
    old = now - POLICY.retention - timedelta(days=2)
    try:
        async with pool.acquire() as conn:
            for n in range(3):  # three old grades of students with nothing open
                await _grade(conn, f"stu_old{n}", old - timedelta(hours=n))
            await _grade(conn, "stu_recent", now - POLICY.retention + timedelta(days=1))
            await _grade(conn, "stu_waiting", old)  # an alert still waits for its owner
            await _alert(conn, "stu_waiting", old, "open", held=False)
            await _grade(conn, "stu_held", old)  # acknowledged, its case still open
            await _alert(conn, "stu_held", old, "acknowledged", held=True)
            await _grade(conn, "stu_closed", old)  # acknowledged, its case closed since
            await _alert(conn, "stu_closed", old, "acknowledged", held=False)
        triage = SimpleNamespace(
            pool=pool, policy=POLICY, settings=TriageSettings(retention_batch=2)
        )
        chore = housekeeping(triage)  # type: ignore[arg-type]
        caplog.set_level("INFO", logger="shouwang.triage.scheduler")

        async def graded() -> set[str]:
            rows = await pool.fetch("SELECT student_ref FROM grades")
            return {r["student_ref"] for r in rows}

        # A full batch asks to run again at once; the oldest go first.
        assert await chore() is True
        assert await graded() == {"stu_old0", "stu_recent", "stu_waiting", "stu_held"} | {
            "stu_closed"
        }
        assert await chore() is True  # stu_old0 and stu_closed: a full batch again
        assert await chore() is False
        assert await graded() == {"stu_recent", "stu_waiting", "stu_held"}
        assert await pool.fetchval("SELECT count(*) FROM alerts") == 3  # structured facts stay
        assert "stu_" not in caplog.text
        assert "2 grades" in caplog.text
    finally:
        await pool.close()
