"""The service cannot undo its own guards: it connects as a runtime role that owns nothing.

Migrations run as `casework_owner`; the service as `casework`, which may read and write rows
but not switch off row-level security, drop the audit log's triggers, truncate or rewrite the
history, change the schema or grant itself back a right. Each attempt, as a compromised
service would make it, is refused by PostgreSQL.
"""

from __future__ import annotations

import asyncpg
import pytest

pytestmark = pytest.mark.integration

ATTEMPTS = [
    "ALTER TABLE audit_log NO FORCE ROW LEVEL SECURITY",
    "ALTER TABLE cases DISABLE ROW LEVEL SECURITY",
    "DROP POLICY campus_isolation ON notes",
    "DROP TRIGGER audit_log_no_update_delete ON audit_log",
    "DROP TRIGGER case_history_no_update ON case_history",
    "TRUNCATE audit_log",
    "TRUNCATE case_history",
    "TRUNCATE cases CASCADE",
    "UPDATE audit_log SET reason = 'rewritten'",
    "DELETE FROM audit_log",
    "DELETE FROM case_history",
    "CREATE TABLE stash (note text)",
    "DROP TABLE audit_log",
    "ALTER TABLE notes ADD COLUMN plain text",
    "SET ROLE casework_owner",
]


@pytest.mark.parametrize("statement", ATTEMPTS)
async def test_the_runtime_role_cannot_undo_row_level_security_triggers_or_the_audit_log(
    casework_dsn: str, statement: str
) -> None:
    conn = await asyncpg.connect(casework_dsn)
    try:
        assert await conn.fetchval("SELECT current_user") == "casework"
        await conn.execute("SELECT set_config('shouwang.campus_id', 'runtime-probe', false)")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(statement)
    finally:
        await conn.close()


async def test_a_right_the_owner_withheld_cannot_be_granted_back(casework_dsn: str) -> None:
    conn = await asyncpg.connect(casework_dsn)
    try:
        await conn.execute("SELECT set_config('shouwang.campus_id', 'runtime-probe', false)")
        # Without the grant option PostgreSQL only warns that nothing was granted.
        await conn.execute("GRANT UPDATE, DELETE ON audit_log TO casework")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("DELETE FROM audit_log")
    finally:
        await conn.close()


async def test_the_runtime_role_appends_to_and_reads_the_audit_log(casework_dsn: str) -> None:
    conn = await asyncpg.connect(casework_dsn)
    try:
        await conn.execute("SELECT set_config('shouwang.campus_id', 'runtime-probe', false)")
        await conn.execute(
            "INSERT INTO audit_log (campus_id, principal_ref, role, action) "
            "VALUES ('runtime-probe', 'per_x', 'auditor', 'probe')"
        )
        assert await conn.fetchval("SELECT count(*) FROM audit_log") == 1
        owners = await conn.fetch(
            "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'casework'"
        )
        assert [r[0] for r in owners] == ["casework_owner"]
    finally:
        await conn.close()
