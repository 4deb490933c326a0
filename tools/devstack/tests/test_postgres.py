"""Provisioning gives each service its own role and schema, and migrations run exactly once."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import asyncpg
import psycopg
import psycopg.sql
import pytest
from shouwang_devstack.postgres import LocalPostgres
from shouwang_devstack.provision import (
    MigratedTemplates,
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


def _catalogue(admin_dsn: str, database: str, service: str) -> dict[str, object]:
    """What a service's database grants and holds, with the database's own name left out."""
    with psycopg.connect(with_database(admin_dsn, database)) as conn:
        conn.execute(
            psycopg.sql.SQL("SET search_path = {}").format(psycopg.sql.Identifier(service))
        )

        def rows(query: str, *args: object) -> list[tuple[object, ...]]:
            return sorted(conn.execute(query, args).fetchall(), key=repr)

        acl = conn.execute(
            "SELECT datacl::text[] FROM pg_database WHERE datname = current_database()"
        ).fetchone()
        return {
            "database acl": sorted(acl[0] or []) if acl else None,
            "schemas": rows(
                "SELECT nspname, pg_get_userbyid(nspowner), nspacl::text[] FROM pg_namespace"
                " WHERE nspname NOT LIKE 'pg\\_%%' AND nspname <> 'information_schema'"
            ),
            "relations": rows(
                "SELECT c.relname, c.relkind::text, pg_get_userbyid(c.relowner), c.relacl::text[],"
                " c.relrowsecurity, c.relforcerowsecurity FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s",
                service,
            ),
            "default privileges": rows(
                "SELECT pg_get_userbyid(defaclrole), defaclobjtype::text, defaclacl::text[]"
                " FROM pg_default_acl"
            ),
            "triggers": rows(
                "SELECT tgrelid::regclass::text, tgname FROM pg_trigger WHERE NOT tgisinternal"
            ),
            "policies": rows("SELECT tablename, policyname, roles::text[] FROM pg_policies"),
            "functions": rows(
                "SELECT p.proname, pg_get_userbyid(p.proowner), p.proacl::text[] FROM pg_proc p"
                " JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = %s",
                service,
            ),
            "migrations": rows(
                "SELECT migration_id FROM _yoyo_migration WHERE current_schema() = %s", service
            ),
        }


@pytest.mark.parametrize("service", ["casework", "notify"])
def test_a_database_copied_from_the_template_is_the_one_provisioning_gives(
    postgres_admin_dsn: str, service: str
) -> None:
    """The fixtures copy a migrated template instead of migrating each test's database: the
    copy must grant, own and hold exactly what a database provisioned from scratch does,
    closed to PUBLIC included (a database's own ACL is not copied with it)."""
    templates = MigratedTemplates(postgres_admin_dsn, secret=SECRET)
    provisioned = provision_fresh(postgres_admin_dsn, service, secret=SECRET)
    first, second = templates.fresh(service), templates.fresh(service)
    assert len({provisioned, first, second}) == 3
    names = [dsn.rsplit("/", 1)[1] for dsn in (provisioned, first, second)]
    expected = _catalogue(postgres_admin_dsn, names[0], service)
    assert expected["migrations"], expected
    assert [_catalogue(postgres_admin_dsn, name, service) for name in names[1:]] == [
        expected,
        expected,
    ]
    with psycopg.connect(first) as conn:
        assert conn.execute("SELECT current_user, current_schema()").fetchone() == (
            service,
            service,
        )
