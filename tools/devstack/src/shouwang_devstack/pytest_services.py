"""What integration tests build on the session's servers: fresh migrated databases, the
shared service settings, an identity provider, and services run as real processes (see
`pytest_plugin`)."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ._proc import free_port
from .identity import IdentityProvider
from .kafka import LocalKafka
from .localenv import generate_local_secrets, tests_role_secret
from .postgres import LocalPostgres
from .provision import MigratedTemplates, drop_database, has_migrations
from .pytest_servers import PostgresEndpoint
from .services import ServiceProcess, ServiceProcessFactory, service_info

# One set of migrated templates per server and secret for the whole session, whichever
# factory asks (a test that stops PostgreSQL builds a factory of its own on the same server).
_TEMPLATES: dict[tuple[str, str], MigratedTemplates] = {}
_TEMPLATES_LOCK = threading.Lock()


def _templates(admin_dsn: str, secret: str) -> MigratedTemplates:
    with _TEMPLATES_LOCK:
        key = (admin_dsn, secret)
        if key not in _TEMPLATES:
            _TEMPLATES[key] = MigratedTemplates(admin_dsn, secret=secret)
        return _TEMPLATES[key]


@dataclass
class ServiceDatabaseFactory:
    """Builds fresh migrated databases: `await factory("intake")` or `factory.sync("intake")`.

    Each is a copy of the service's migrated template (`MigratedTemplates`): the same roles,
    schema, rights and tables as `provision_fresh` gives, without running the migrations again.
    """

    admin_dsn: str
    secret: str
    created: list[str] = field(default_factory=list)

    def sync(self, service: str) -> str:
        """A fresh database for `service` with its role, schema and migrations; returns its DSN."""
        dsn = _templates(self.admin_dsn, self.secret).fresh(service)
        self.created.append(dsn.rsplit("/", 1)[1])
        return dsn

    async def __call__(self, service: str) -> str:
        return await asyncio.to_thread(self.sync, service)


@pytest.fixture(scope="session")
def service_database(
    _postgres_endpoint: PostgresEndpoint,
) -> Iterator[ServiceDatabaseFactory]:
    """Factory of fresh, migrated per-service databases (dropped at the end on shared servers)."""
    factory = ServiceDatabaseFactory(
        _postgres_endpoint.admin_dsn, tests_role_secret(_postgres_endpoint.admin_dsn)
    )
    yield factory
    if _postgres_endpoint.source == "DATABASE_URL":
        templates = _templates(factory.admin_dsn, factory.secret).templates.values()
        for name in [*factory.created, *templates]:
            drop_database(_postgres_endpoint.admin_dsn, name)


@pytest.fixture(scope="session")
def identity_provider() -> Iterator[IdentityProvider]:
    """An RS256 identity provider whose JWKS is served over HTTP (production auth in tests)."""
    with IdentityProvider().serving() as provider:
        yield provider


@pytest.fixture(scope="session")
def devstack_env() -> dict[str, str]:
    """Shared service settings for tests: SHOUWANG_ENV=local and random per-session secrets."""
    env = generate_local_secrets()
    env.pop("SHOUWANG_DB_ROLE_SECRET")
    env["SHOUWANG_ENV"] = "local"
    return env


def _test_kafka(request: pytest.FixtureRequest) -> str:
    """The broker a test's services use: its `local_kafka` if it stops one, else the session's."""
    if request.scope == "function" and "local_kafka" in request.fixturenames:
        kafka: LocalKafka = request.getfixturevalue("local_kafka")
        return kafka.bootstrap
    bootstrap: str = request.getfixturevalue("kafka_bootstrap")
    return bootstrap


def _test_databases(request: pytest.FixtureRequest) -> ServiceDatabaseFactory:
    """Where a test's services get databases: its `local_postgres` if it stops one, else the
    session's server."""
    if request.scope == "function" and "local_postgres" in request.fixturenames:
        server: LocalPostgres = request.getfixturevalue("local_postgres")
        return ServiceDatabaseFactory(server.dsn, tests_role_secret(server.dsn))
    factory: ServiceDatabaseFactory = request.getfixturevalue("service_database")
    return factory


@pytest.fixture
def service_process(
    request: pytest.FixtureRequest,
    devstack_tmp: Path,
    devstack_env: dict[str, str],
) -> Iterator[ServiceProcessFactory]:
    """Factory: `service_process(name, env=None, *, port=None) -> ServiceProcess` (not started).

    Fills in what the caller did not: a free port, `KAFKA_BOOTSTRAP_SERVERS` (the session
    broker, or the test's `local_kafka` when it uses one), `<SVC>_DATABASE_URL` (a fresh migrated
    database, for services with migrations, on the test's `local_postgres` when it uses one),
    SHOUWANG_ENV=local and the session's secrets. Start it with `start()` /
    `await start_async()`; every process built here is stopped when the test ends.
    """
    yield from _service_processes(request, devstack_tmp, devstack_env)


@pytest.fixture(scope="module")
def module_service_process(
    request: pytest.FixtureRequest,
    devstack_tmp: Path,
    devstack_env: dict[str, str],
) -> Iterator[ServiceProcessFactory]:
    """`service_process` for processes a whole test module shares (on the session's broker
    and database server); they are stopped when the module ends."""
    yield from _service_processes(request, devstack_tmp, devstack_env)


def _service_processes(
    request: pytest.FixtureRequest, devstack_tmp: Path, devstack_env: dict[str, str]
) -> Iterator[ServiceProcessFactory]:
    built: list[ServiceProcess] = []
    test_id = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:80]

    def build(
        name: str, env: dict[str, str] | None = None, *, port: int | None = None
    ) -> ServiceProcess:
        info = service_info(name)
        merged = dict(devstack_env)
        merged.update(env or {})
        if "KAFKA_BOOTSTRAP_SERVERS" not in merged:
            merged["KAFKA_BOOTSTRAP_SERVERS"] = _test_kafka(request)
        if info.database_env not in merged and has_migrations(name):
            merged[info.database_env] = _test_databases(request).sync(name)
        proc = ServiceProcess(
            name,
            log_path=devstack_tmp / "services" / f"{test_id}-{name}-{len(built) + 1}.log",
            env=merged,
            port=port or free_port(),
            die_with_parent=True,
        )
        built.append(proc)
        return proc

    yield build
    # Together, not one after another: each gets its whole grace period (SIGTERM, then SIGKILL
    # after `STOP_WITHIN`), and the slowest sets the teardown's length instead of their sum.
    if built:
        with ThreadPoolExecutor(max_workers=len(built)) as pool:
            list(pool.map(ServiceProcess.stop, built))
