"""Give a service its own roles, schema and migrated tables in PostgreSQL.

Each service owns one schema named after it, and two login roles:

- `<svc>_owner` owns the schema and everything in it; migrations (yoyo SQL files in
  `services/<svc>/migrations/`) run as it, so its tables and yoyo's bookkeeping belong to it;
- `<svc>`, the runtime role the service connects as (its `search_path` is the schema), may
  use the schema and read and write rows (SELECT, INSERT, UPDATE, DELETE on tables, the
  sequences, the functions), granted by default privileges of the owner: no TRUNCATE, no
  DDL, no ALTER, no DROP, no GRANT. Not owning the tables, it cannot switch off FORCE ROW
  LEVEL SECURITY, drop a trigger or grant itself a right the owner withheld.

Each service's migrations narrow further where a table asks for it (an audit log: INSERT and
SELECT only), e.g. `REVOKE UPDATE, DELETE ON audit_log FROM <runtime role>`; the runtime
role's name is the schema's (`current_schema()` in a migration). A database provisioned
before the split (tables owned by `<svc>`) is handed to the owner on the next provisioning.
"""

from __future__ import annotations

import re
import threading
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from ._proc import DevstackError, repo_root
from .localenv import role_password

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# One advisory lock key for all provisioning: roles are cluster-wide, and two test processes
# creating the same role at once would otherwise race.
_LOCK_KEY = 0x5357_0001


def _check_name(kind: str, name: str) -> str:
    if not _NAME.match(name):
        raise DevstackError(f"{kind} name {name!r} must match {_NAME.pattern}")
    return name


def with_database(dsn: str, database: str) -> str:
    """The same DSN pointing at another database."""
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def normalise_dsn(dsn: str) -> str:
    """`postgresql://…` from the variants tools hand out (`postgres://`, `postgresql+psycopg2://`)."""
    parts = urlsplit(dsn)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme not in ("postgresql", "postgres"):
        raise DevstackError(f"not a PostgreSQL URL: {parts.scheme}://…")
    return urlunsplit(("postgresql", parts.netloc, parts.path, parts.query, parts.fragment))


def service_dsn(admin: str, role: str, password: str, database: str) -> str:
    """A plain `postgresql://role:pw@host:port/db` (what asyncpg takes) on the admin DSN's server."""
    parts = urlsplit(admin)
    host = parts.hostname or "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{quote(role, safe='')}:{quote(password, safe='')}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(("postgresql", netloc, "/" + database, "", ""))


def migrations_dir(service: str, root: Path | None = None) -> Path:
    """`services/<service>/migrations` in the repository."""
    return (root or repo_root()) / "services" / service / "migrations"


def has_migrations(service: str, root: Path | None = None) -> bool:
    """True when the service has a `migrations/` folder (and so gets a database)."""
    return migrations_dir(service, root).is_dir()


def _database_of(dsn: str) -> str:
    path = urlsplit(dsn).path.lstrip("/")
    return path or "postgres"


def ensure_database(admin: str, database: str) -> bool:
    """Create `database` if it does not exist (owned by the admin, closed to PUBLIC). True if created."""
    _check_name("database", database)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
            ).fetchone()
            if exists:
                return False
            conn.execute(
                sql.SQL("CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0").format(
                    sql.Identifier(database)
                )
            )
            conn.execute(
                sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(database))
            )
            return True
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))


def drop_database(admin: str, database: str) -> None:
    """Drop a database, disconnecting whoever is still in it (tests' cleanup on shared servers)."""
    _check_name("database", database)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
        )


def owner_role(service: str) -> str:
    """The role that owns `service`'s schema and runs its migrations."""
    return f"{service}_owner"


def _ensure_login_role(
    conn: psycopg.Connection[Any], role: str, password: str, schema: str, database: str
) -> None:
    ident = sql.Identifier(role)
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    verb = "ALTER" if exists else "CREATE"
    conn.execute(
        sql.SQL(
            verb + " ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD {}"
        ).format(ident, sql.Literal(password))
    )
    conn.execute(
        sql.SQL("ALTER ROLE {} SET search_path = {}").format(ident, sql.Identifier(schema))
    )
    conn.execute(
        sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(
            sql.Identifier(database), ident
        )
    )


def ensure_role_and_schema(
    admin: str, service: str, password: str, database: str, *, owner_password: str | None = None
) -> None:
    """Idempotently: the owner and runtime login roles, schema `service` owned by the owner,
    search paths, and the runtime role's rights by default privileges (see the module)."""
    runtime = _check_name("service", service)
    owner = owner_role(runtime)
    schema, runtime_id, owner_id = (sql.Identifier(n) for n in (runtime, runtime, owner))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            _ensure_login_role(conn, runtime, password, runtime, database)
            _ensure_login_role(conn, owner, owner_password or password, runtime, database)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    with psycopg.connect(with_database(admin, database), autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE SCHEMA IF NOT EXISTS {} AUTHORIZATION {}").format(schema, owner_id)
        )
        # A database from before the split: the runtime role owned the schema and its tables.
        legacy = conn.execute(
            """
            SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = %s AND pg_get_userbyid(c.relowner) = %s
            """,
            (runtime, runtime),
        ).fetchone()
        conn.execute(sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(schema, owner_id))
        if legacy and legacy[0]:
            conn.execute(sql.SQL("REASSIGN OWNED BY {} TO {}").format(runtime_id, owner_id))
        conn.execute(sql.SQL("REVOKE ALL ON SCHEMA {} FROM PUBLIC").format(schema))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, runtime_id))
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        for grant in (
            "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {}",
            "GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {}",
            "GRANT EXECUTE ON FUNCTIONS TO {}",
        ):
            conn.execute(
                sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} " + grant).format(
                    owner_id, schema, runtime_id
                )
            )
        if legacy and legacy[0]:
            # Tables made before the default privileges: the same rights, granted once; the
            # service's migrations that narrow them run after this.
            for grant in (
                "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {} TO {}",
                "GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {} TO {}",
            ):
                conn.execute(sql.SQL(grant).format(schema, runtime_id))


def migrate(dsn: str, service: str, directory: Path) -> list[str]:
    """Apply the yoyo migrations in `directory` as the role in `dsn`; returns the ids applied.

    yoyo's own tables (`_yoyo_migration`, `yoyo_lock`, …) land in the service's schema.
    """
    from yoyo import get_backend, read_migrations

    parts = urlsplit(dsn)
    url = urlunsplit(
        ("postgresql+psycopg", parts.netloc, parts.path, f"schema={service}", parts.fragment)
    )
    backend = get_backend(url)
    try:
        migrations = read_migrations(str(directory))
        with backend.lock():
            pending = backend.to_apply(migrations)
            backend.apply_migrations(pending)
        return [m.id for m in pending]
    finally:
        backend.connection.close()


def provision_service(
    admin_dsn: str,
    service: str,
    database: str | None = None,
    *,
    password: str | None = None,
    secret: str | None = None,
    migrations: Path | None = None,
    root: Path | None = None,
) -> str:
    """Create (idempotently) the service's roles and schema, run its migrations as the owner,
    return the runtime role's DSN.

    `database` defaults to the admin DSN's database; a name that does not exist yet is created.
    The role's password is `password`, else derived from `secret` / `SHOUWANG_DB_ROLE_SECRET`.
    The returned DSN is a plain `postgresql://service:pw@host:port/db` for asyncpg.
    """
    admin = normalise_dsn(admin_dsn)
    service = _check_name("service", service)
    database = database or _database_of(admin)
    if database != _database_of(admin):
        ensure_database(admin, database)
    pw = password or role_password(service, secret)
    owner_pw = role_password(owner_role(service), secret or (password and password + ":owner"))
    ensure_role_and_schema(admin, service, pw, database, owner_password=owner_pw)
    dsn = service_dsn(admin, service, pw, database)
    directory = migrations or migrations_dir(service, root)
    if directory.is_dir():
        migrate(service_dsn(admin, owner_role(service), owner_pw, database), service, directory)
    return dsn


def fresh_database_name(service: str) -> str:
    """A unique database name for one test: `t_<service>_<8 hex>`."""
    return f"t_{service}_{uuid.uuid4().hex[:8]}"


def provision_fresh(
    admin_dsn: str, service: str, *, secret: str | None = None, root: Path | None = None
) -> str:
    """A brand-new database for `service` (role, schema, migrations), so tests never share rows."""
    if not has_migrations(service, root):
        raise DevstackError(
            f"services/{service}/migrations does not exist: {service} has no database to provision"
        )
    return provision_service(
        admin_dsn, service, fresh_database_name(service), secret=secret, root=root
    )


class MigratedTemplates:
    """Fresh databases for tests, each a copy of one migrated template per service.

    Running a service's migrations takes PostgreSQL seconds on a loaded machine, and a test
    session provisions hundreds of fresh databases. The first `fresh(service)` provisions a
    template exactly as `provision_fresh` does (roles, schema, default privileges, migrations
    as the owner); every call then copies it (`CREATE DATABASE … TEMPLATE`, which copies the
    schema, tables, rights, row security and yoyo's record of what ran) and does for the copy
    what the copy does not carry: the database's own ACL (closed to PUBLIC, CONNECT and
    TEMPORARY for the two roles) and the roles' passwords and search paths (cluster-wide,
    set again as each provisioning does). Nobody connects to a template after it is made, so
    copies never wait on it.
    """

    def __init__(
        self, admin_dsn: str, *, secret: str | None = None, root: Path | None = None
    ) -> None:
        self.admin = normalise_dsn(admin_dsn)
        self.secret = secret
        self.root = root
        self.templates: dict[str, str] = {}
        self._lock = threading.Lock()

    def _template(self, service: str) -> str:
        with self._lock:
            template = self.templates.get(service)
            if template is None:
                template = f"t_{service}_template_{uuid.uuid4().hex[:8]}"
                provision_service(self.admin, service, template, secret=self.secret, root=self.root)
                self.templates[service] = template
            return template

    def fresh(self, service: str) -> str:
        """The runtime role's DSN of a brand-new database for `service`, as `provision_fresh`."""
        if not has_migrations(service, self.root):
            raise DevstackError(
                f"services/{service}/migrations does not exist: "
                f"{service} has no database to provision"
            )
        runtime = _check_name("service", service)
        template = self._template(runtime)
        database = fresh_database_name(runtime)
        password = role_password(runtime, self.secret)
        owner_password = role_password(owner_role(runtime), self.secret)
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
            try:
                conn.execute(
                    sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                        sql.Identifier(database), sql.Identifier(template)
                    )
                )
                conn.execute(
                    sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(
                        sql.Identifier(database)
                    )
                )
                _ensure_login_role(conn, runtime, password, runtime, database)
                _ensure_login_role(conn, owner_role(runtime), owner_password, runtime, database)
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
        return service_dsn(self.admin, runtime, password, database)
