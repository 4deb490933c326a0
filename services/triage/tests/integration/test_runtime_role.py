"""Who read a student's grade cannot be erased by the service that served it.

Migrations run as `triage_owner`; the service connects as `triage`, which may append to and
read `grade_reads` but not rewrite, delete or truncate it, drop its triggers, change the schema
or take the owner's role. Each attempt, as a compromised service would make it, is refused
by PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import asyncpg
import pytest

pytestmark = pytest.mark.integration

ATTEMPTS = [
    "UPDATE grade_reads SET action = 'grade.read'",
    "DELETE FROM grade_reads",
    "TRUNCATE grade_reads",
    "DROP TRIGGER grade_reads_no_update_delete ON grade_reads",
    "DROP TRIGGER grade_reads_no_truncate ON grade_reads",
    "DROP TABLE grade_reads",
    "ALTER TABLE grade_reads DISABLE TRIGGER ALL",
    "CREATE TABLE stash (grade text)",
    "SET ROLE triage_owner",
]


@pytest.fixture(scope="module")
async def triage_dsn(service_database: Callable[[str], Coroutine[Any, Any, str]]) -> str:
    return await service_database("triage")


@pytest.mark.parametrize("statement", ATTEMPTS)
async def test_a_compromised_triage_cannot_erase_who_read_a_grade(
    triage_dsn: str, statement: str
) -> None:
    conn = await asyncpg.connect(triage_dsn)
    try:
        assert await conn.fetchval("SELECT current_user") == "triage"
        await conn.execute(
            "INSERT INTO grade_reads (campus_id, principal_sub, role, student_ref, action) "
            "VALUES ('runtime-probe', 'C001', 'counseling_center', 'stu_x', 'grade.read')"
        )
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(statement)
        assert await conn.fetchval("SELECT count(*) FROM grade_reads") >= 1
        owners = await conn.fetch(
            "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'triage'"
        )
        assert [r[0] for r in owners] == ["triage_owner"]
    finally:
        await conn.close()
