"""Provisioning gives each service its own role and schema, and migrations run exactly once."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import asyncpg
import psycopg
import pytest
from shouwang_devstack.postgres import LocalPostgres
from shouwang_devstack.provision import (
    fresh_database_name,
    provision_fresh,
    provision_service,
    with_database,
)
from shouwang_devstack.services import ServiceProcess

pytestmark = pytest.mark.integration

SECRET = "devstack-selftest-secret"

FIRST = """\
-- a table for the probe service
CREATE TABLE items (id bigint PRIMARY KEY, label text NOT NULL);
"""
SECOND = """\
-- depends: 0001_initial
ALTER TABLE items ADD COLUMN added_later boolean NOT NULL DEFAULT false;
"""


def _migrations(tmp_path: Path, *files: tuple[str, str]) -> Path:
    directory = tmp_path / f"migrations-{uuid.uuid4().hex[:6]}"
    directory.mkdir()
    for name, body in files:
        (directory / name).write_text(body, encoding="utf-8")
    return directory


async def test_server_answers(postgres_admin_dsn: str) -> None:
    conn = await asyncpg.connect(postgres_admin_dsn)
    try:
        assert await conn.fetchval("SELECT 1") == 1
        assert int(await conn.fetchval("SHOW max_connections")) >= 100
    finally:
        await conn.close()


async def test_provisioning_is_idempotent_and_migrations_apply_once(
    postgres_admin_dsn: str, tmp_path: Path
) -> None:
    database = fresh_database_name("dsprobe_a")
    migrations = _migrations(tmp_path, ("0001_initial.sql", FIRST))

    dsn = provision_service(
        postgres_admin_dsn, "dsprobe_a", database, secret=SECRET, migrations=migrations
    )
    assert dsn.startswith("postgresql://dsprobe_a:")
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SELECT current_user") == "dsprobe_a"
        assert await conn.fetchval("SELECT current_schema()") == "dsprobe_a"
        await conn.execute("INSERT INTO items VALUES (1, 'kept')")
    finally:
        await conn.close()

    # Again, with the same migrations: nothing re-runs, rows stay, the DSN is the same.
    again = provision_service(
        postgres_admin_dsn, "dsprobe_a", database, secret=SECRET, migrations=migrations
    )
    assert again == dsn

    # A new migration file applies on the next provisioning, and only it.
    (migrations / "0002_flag.sql").write_text(SECOND, encoding="utf-8")
    provision_service(
        postgres_admin_dsn, "dsprobe_a", database, secret=SECRET, migrations=migrations
    )
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT id, label, added_later FROM items")
        assert [tuple(r) for r in rows] == [(1, "kept", False)]
        applied = await conn.fetch("SELECT migration_id FROM dsprobe_a._yoyo_migration")
        assert sorted(r[0] for r in applied) == ["0001_initial", "0002_flag"]
        owner = await conn.fetchval(
            "SELECT tableowner FROM pg_tables WHERE schemaname = 'dsprobe_a' AND tablename = 'items'"
        )
        assert owner == "dsprobe_a_owner"  # migrations ran as the owner; the service is not it
    finally:
        await conn.close()

    # yoyo's bookkeeping lives in the service's schema, not in public.
    with psycopg.connect(with_database(postgres_admin_dsn, database)) as admin:
        public = admin.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        ).fetchone()
        assert public == (0,)


async def test_service_role_cannot_read_another_services_schema(
    postgres_admin_dsn: str, tmp_path: Path
) -> None:
    database = fresh_database_name("dsprobe")
    migrations = _migrations(tmp_path, ("0001_initial.sql", FIRST))
    a = provision_service(
        postgres_admin_dsn, "dsprobe_a", database, secret=SECRET, migrations=migrations
    )
    b = provision_service(
        postgres_admin_dsn, "dsprobe_b", database, secret=SECRET, migrations=migrations
    )
    conn_a = await asyncpg.connect(a)
    conn_b = await asyncpg.connect(b)
    try:
        await conn_a.execute("INSERT INTO items VALUES (7, 'only for a')")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn_b.fetch("SELECT * FROM dsprobe_a.items")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn_b.execute("CREATE TABLE public.sneaky (x int)")
        assert await conn_b.fetchval("SELECT count(*) FROM items") == 0  # its own table
    finally:
        await conn_a.close()
        await conn_b.close()


async def test_fresh_databases_do_not_share_rows(postgres_admin_dsn: str, tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "services" / "dsprobe_c" / "migrations").mkdir(parents=True)
    (root / "services" / "dsprobe_c" / "migrations" / "0001_initial.sql").write_text(FIRST)
    first = provision_fresh(postgres_admin_dsn, "dsprobe_c", secret=SECRET, root=root)
    second = provision_fresh(postgres_admin_dsn, "dsprobe_c", secret=SECRET, root=root)
    assert first != second
    conn = await asyncpg.connect(first)
    try:
        await conn.execute("INSERT INTO items VALUES (1, 'first only')")
    finally:
        await conn.close()
    conn = await asyncpg.connect(second)
    try:
        assert await conn.fetchval("SELECT count(*) FROM items") == 0
    finally:
        await conn.close()


async def test_service_database_fixture_for_a_service_without_migrations_fails_clearly(
    service_database: object,
) -> None:
    from shouwang_devstack._proc import DevstackError

    with pytest.raises(DevstackError, match="no database"):
        await service_database("dsprobe_none")  # type: ignore[operator]


async def test_a_test_that_stops_postgres_gets_its_services_databases_there(
    local_postgres: LocalPostgres, service_process: Callable[..., ServiceProcess]
) -> None:
    dsn = service_process("intake").env["INTAKE_DATABASE_URL"]  # built, not started
    assert f"@{local_postgres.host}:{local_postgres.port}/" in dsn

    local_postgres.stop()
    with pytest.raises(ConnectionRefusedError):
        await asyncpg.connect(dsn, timeout=5)
    await local_postgres.start_async()
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SELECT current_user") == "intake"
    finally:
        await conn.close()
