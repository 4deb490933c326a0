"""The session's servers for integration tests: a real Kafka broker and a real PostgreSQL,
and the local ones a test may stop (see `pytest_plugin` for where each comes from)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ._proc import free_port
from .kafka import LocalKafka
from .kafka_jars import ensure_kafka_jars
from .postgres import LocalPostgres
from .provision import normalise_dsn
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
        kafka.discard()  # its data dir is thrown away with the session


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
        kafka.discard()  # its data dir is thrown away with the session


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
        server.discard()  # the data dir is removed just below
        with contextlib.suppress(OSError):
            shutil.copy2(server.log_path, devstack_tmp / log_name)
        # In the background, left to finish after the session: removing the session's
        # databases took 9 s of the benchmarks' session's end and 11 s of CI's.
        subprocess.run(
            ["sh", "-c", 'rm -rf -- "$1" &', "sh", str(data_dir)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            check=False,
        )


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
