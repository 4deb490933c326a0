"""Triage's erasure on request against a real PostgreSQL: the student's evidence and grade as
they stood at the erasure go; a later report, another student and the alerts stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from shouwang_triage.adapters.erasure import erase_student

pytestmark = pytest.mark.integration

AT = datetime(2026, 12, 6, 12, tzinfo=UTC)


async def _evidence(conn: asyncpg.Connection, evidence_id: str, student: str, at: datetime) -> None:
    await conn.execute(
        "INSERT INTO evidence (evidence_id, campus_id, student_ref, kind, signals, instrument,"
        " items, observed_at, received_at)"
        " VALUES ($1, 'c1', $2, 'screening', '{}', 'phq9', '{3,3,3,2,2,2,1,1,3}', $3, $3)",
        evidence_id,
        student,
        at,
    )


async def _grade(conn: asyncpg.Connection, student: str, at: datetime) -> None:
    await conn.execute(
        "INSERT INTO grades (campus_id, student_ref, severity, reasons, policy_version,"
        " assessment_id, graded_at) VALUES ('c1', $1, 'severe', '[]', 'p1', $2, $3)",
        student,
        f"as-{student}",
        at,
    )


async def test_the_students_evidence_and_grade_up_to_the_erasure_go_and_nothing_else(
    service_database: Any,
) -> None:
    conn = await asyncpg.connect(await service_database("triage"))
    try:
        await _evidence(conn, "before", "stu_1", AT - timedelta(days=30))
        await _evidence(conn, "after", "stu_1", AT + timedelta(seconds=1))  # a new concern
        await _evidence(conn, "other", "stu_2", AT - timedelta(days=30))
        await _grade(conn, "stu_1", AT - timedelta(days=30))
        await _grade(conn, "stu_2", AT - timedelta(days=30))
        await conn.execute(
            "INSERT INTO alerts (alert_id, campus_id, student_ref, assessment_id, severity,"
            " owner_role, ack_deadline, status, raised_at, policy_version)"
            " VALUES ('al1', 'c1', 'stu_1', 'as-stu_1', 'severe', 'residence_counselor', $1,"
            " 'acknowledged', $1, 'p1')",
            AT - timedelta(days=30),
        )

        async with conn.transaction():
            erased = await erase_student(conn, "c1", "stu_1", AT)

        assert (erased.evidence, erased.grades) == (1, 1)
        left = await conn.fetch("SELECT evidence_id FROM evidence ORDER BY evidence_id")
        assert [r["evidence_id"] for r in left] == ["after", "other"]
        grades = await conn.fetch("SELECT student_ref FROM grades")
        assert [r["student_ref"] for r in grades] == ["stu_2"]
        assert await conn.fetchval("SELECT count(*) FROM alerts") == 1  # structured facts stay
    finally:
        await conn.close()
