"""`shouwang-dev`: run the whole platform locally with a real Kafka and a real PostgreSQL.

shouwang-dev up                 Kafka + PostgreSQL + provisioning + topics + every service
shouwang-dev down               stop leftovers recorded in the data dir's pid files
shouwang-dev kafka              only the Kafka broker (foreground)
shouwang-dev postgres           only PostgreSQL (foreground)
shouwang-dev topics             create every topic on KAFKA_BOOTSTRAP_SERVERS
shouwang-dev migrate <service>  provision + migrate one service against an admin DSN
shouwang-dev env <service>      print the environment `up` gives a service (to run it by hand)

The local servers listen on 127.0.0.1 at SHOUWANG_KAFKA_PORT (9092), SHOUWANG_KAFKA_CONTROLLER_PORT
(9093) and SHOUWANG_POSTGRES_PORT (5432); `env`, `migrate` and `topics` read the same variables.
SHOUWANG_KAFKA_SASL_SSL=1 makes `up` run the broker with a SASL_SSL listener only (a CA made on
first run, a SCRAM-SHA-512 user per service, each service's ACLs): services get their own
credentials; other clients need them too (the CA is in <data dir>/kafka-sasl/tls/ca.pem).
Local state (servers' data, logs, pid files, secrets) is kept in SHOUWANG_DATA_DIR (<repo>/.data).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from types import FrameType

from ._proc import DevstackError, data_dir, repo_root, stop_from_pid_file
from .console import say
from .kafka import LocalKafka
from .kafka_jars import ensure_kafka_jars
from .local_ports import (
    KAFKA_CONTROLLER_PORT_ENV,
    KAFKA_PORT_ENV,
    POSTGRES_PORT_ENV,
    LocalPorts,
    local_ports,
    ports_record,
    record_ports,
    running_ports,
)
from .localenv import load_or_create_local_env
from .postgres import LocalPostgres
from .provision import ensure_database, has_migrations, normalise_dsn, provision_service
from .services import present_services, service_info, service_port
from .stack import LOCAL_DATABASE, Stack
from .topics import create_topics_sync
from .welcome import load_demo_campus, seed_demo_accounts, where_everything_is
from .words import language


class _Shutdown(Exception):
    """Raised in the main thread by SIGTERM/SIGINT."""


@contextmanager
def _signals() -> Iterator[None]:
    """Turn SIGINT/SIGTERM into `_Shutdown` once; ignore repeats while we clean up."""

    def handler(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise _Shutdown(signal.Signals(signum).name)

    old_int = signal.signal(signal.SIGINT, handler)
    old_term = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)


def _local_env(root: Path) -> dict[str, str]:
    path = data_dir(root) / "local.env"
    values = load_or_create_local_env(path)
    say(f"local secrets (local only, never for production): {path}")
    return values


# commands ---------------------------------------------------------------------------------------
def cmd_up(args: argparse.Namespace) -> int:
    """Everything, in the foreground, until Ctrl-C or a service dies."""
    root = repo_root()
    stack = Stack(root)
    stack.brokers = args.brokers
    stack.demo = not args.no_demo
    services = present_services(root)
    if args.only:
        wanted = set(args.only.split(","))
        services = [s for s in services if s.name in wanted]
    code = 0
    with _signals():
        try:
            language()  # a bad SHOUWANG_LANG stops `up` before anything starts
            stack.preflight([] if args.no_services else services)
            stack.secrets = _local_env(root)
            stack.start_postgres()
            stack.start_kafka()
            record_ports(stack.ports_path, stack.ports)
            dsns = stack.provision(services)
            stack.create_topics()
            if args.no_services or not services:
                say("no services started" if services else "no services present yet")
            else:
                stack.start_services(services, dsns)
                if stack.demo:
                    load_demo_campus(stack)
                seed_demo_accounts(stack)
                where_everything_is(stack)
            say("up; Ctrl-C stops everything")
            while True:
                dead = stack.dead_service()
                if dead is not None:
                    say(
                        f"{dead.name} exited with code {dead.returncode}; shutting everything "
                        f"down (log {dead.log_path})"
                    )
                    code = 1
                    break
                time.sleep(0.5)
        except _Shutdown as signal_name:
            say(f"{signal_name} received; shutting down")
        except DevstackError as exc:
            say(f"error: {exc}")
            code = 1
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            stack.stop()
    return code


def cmd_down(args: argparse.Namespace) -> int:
    """Stop whatever a previous `up` (or `kafka`/`postgres`) left running, from pid files."""
    data = data_dir(repo_root())
    stopped = []
    for pid_file in sorted((data / "logs").glob("*.pid")) if (data / "logs").is_dir() else []:
        if stop_from_pid_file(pid_file, timeout=15):
            stopped.append(pid_file.stem)
    for folder in ("kafka", "kafka-sasl"):
        if stop_from_pid_file(data / folder / "kafka.pid"):
            stopped.append(folder)
    for pid_file in sorted(data.glob("kafka-cluster/node-*/kafka.pid")):
        if stop_from_pid_file(pid_file):
            stopped.append(f"kafka {pid_file.parent.name}")
    if stop_from_pid_file(data / "postgres" / "postgres.pid", sig=signal.SIGINT):
        stopped.append("postgres")
    ports_record(repo_root()).unlink(missing_ok=True)  # the ports of an `up` no longer running
    say("stopped: " + ", ".join(stopped) if stopped else "nothing was running")
    return 0


def _foreground(start: Callable[[], object], stop: Callable[[], object], banner: str) -> int:
    with _signals():
        try:
            start()
            say(banner)
            while True:
                time.sleep(1)
        except _Shutdown:
            pass
        except DevstackError as exc:
            say(f"error: {exc}")
            return 1
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            stop()
    return 0


def requested_ports(args: argparse.Namespace) -> LocalPorts:
    """The local ports, with `--port` / `--controller-port` (when given) over the environment."""
    ports = local_ports()
    if args.command == "kafka":
        return replace(
            ports,
            kafka=ports.kafka if args.port is None else args.port,
            kafka_controller=(
                ports.kafka_controller if args.controller_port is None else args.controller_port
            ),
        )
    if args.command == "postgres" and args.port is not None:
        return replace(ports, postgres=args.port)
    return ports


def cmd_kafka(args: argparse.Namespace) -> int:
    """Only the Kafka broker, in the foreground, topics created."""
    root = repo_root()
    ports = requested_ports(args)
    kafka = LocalKafka(
        data_dir(root) / "kafka",
        port=ports.kafka,
        controller_port=ports.kafka_controller,
        root=root,
    )

    def start() -> None:
        ensure_kafka_jars(root)
        say(f"Kafka: starting on {kafka.bootstrap} (log {kafka.log_path})")
        kafka.start()
        create_topics_sync(kafka.bootstrap)

    return _foreground(
        start, kafka.stop, f"Kafka ready on {kafka.bootstrap}, topics created; Ctrl-C stops it"
    )


def cmd_postgres(args: argparse.Namespace) -> int:
    """Only PostgreSQL, in the foreground."""
    root = repo_root()
    server = LocalPostgres(data_dir(root) / "postgres", port=requested_ports(args).postgres)

    def start() -> None:
        say(f"PostgreSQL: starting on 127.0.0.1:{server.port} (log {server.log_path})")
        server.start()

    return _foreground(
        start,
        server.stop,
        f"PostgreSQL ready on 127.0.0.1:{server.port}, user postgres, password in "
        f"{server.password_path}; Ctrl-C stops it",
    )


def cmd_jars(args: argparse.Namespace) -> int:
    """Resolve Kafka's jars into .cache/kafka/libs (Maven, once); nothing to do if present."""
    libs = ensure_kafka_jars(repo_root(), quiet=not args.verbose)
    say(f"Kafka jars ready in {libs} ({len(list(libs.glob('*.jar')))} jars)")
    return 0


def cmd_topics(args: argparse.Namespace) -> int:
    """Create every declared topic on KAFKA_BOOTSTRAP_SERVERS (default: the local broker)."""
    bootstrap = args.bootstrap or os.environ.get(
        "KAFKA_BOOTSTRAP_SERVERS",
        running_ports(ports_record(repo_root())).kafka_bootstrap,
    )
    for result in create_topics_sync(bootstrap):
        say(f"{result.name}: {result.outcome} (replication {result.replication_factor})")
    return 0


def _admin_dsn(explicit: str | None, root: Path) -> str:
    if explicit:
        return normalise_dsn(explicit)
    if os.environ.get("DATABASE_URL"):
        return normalise_dsn(os.environ["DATABASE_URL"])
    port = running_ports(ports_record(root)).postgres
    server = LocalPostgres(data_dir(root) / "postgres", port=port)
    if not server.password_path.is_file():
        raise DevstackError("no admin DSN: pass --admin-dsn, set DATABASE_URL, or run `make up`")
    return server.dsn


def cmd_migrate(args: argparse.Namespace) -> int:
    """Provision and migrate one service; prints its DSN's user and database."""
    root = repo_root()
    service_info(args.service)
    admin = _admin_dsn(args.admin_dsn, root)
    secret = (
        os.environ.get("SHOUWANG_DB_ROLE_SECRET") or _local_env(root)["SHOUWANG_DB_ROLE_SECRET"]
    )
    database = args.database
    if database is None and not args.admin_dsn and not os.environ.get("DATABASE_URL"):
        database = LOCAL_DATABASE
        ensure_database(admin, database)
    dsn = provision_service(admin, args.service, database, secret=secret, root=root)
    say(f"{args.service}: provisioned and migrated in database {dsn.rsplit('/', 1)[1]}")
    return 0


def cmd_env(args: argparse.Namespace) -> int:
    """Print `export` lines for running one service by hand against a running `up`/devstack."""
    root = repo_root()
    info = service_info(args.service)
    stack = Stack(root, running_ports(ports_record(root)))
    stack.secrets = load_or_create_local_env(data_dir(root) / "local.env")
    stack.bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", stack.ports.kafka_bootstrap)
    dsns: dict[str, str] = {}
    if has_migrations(info.name, root):
        admin = _admin_dsn(None, root)
        database = None if os.environ.get("DATABASE_URL") else LOCAL_DATABASE
        dsns[info.name] = provision_service(
            admin,
            info.name,
            database,
            secret=stack.secrets["SHOUWANG_DB_ROLE_SECRET"],
            root=root,
        )
    env = stack.service_env(info, dsns)
    env[info.port_env] = str(service_port(info))
    for key in sorted(env):
        print(f"export {key}='{env[key]}'")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `shouwang-dev`."""
    parser = argparse.ArgumentParser(
        prog="shouwang-dev",
        description="Run Shouwang locally: real Kafka (Maven jars) and PostgreSQL, no Docker.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start Kafka, PostgreSQL and every present service")
    up.add_argument("--no-services", action="store_true", help="servers, schemas and topics only")
    up.add_argument("--only", help="comma-separated services to start (default: all present)")
    up.add_argument(
        "--no-demo",
        action="store_true",
        help="no demo campus: its roster and contacts are not loaded, its ladder keeps the policy's",
    )
    up.add_argument(
        "--brokers",
        type=int,
        default=1,
        choices=range(1, 6),
        help="Kafka brokers (3: replication 3, min.insync.replicas 2, as in production)",
    )
    up.set_defaults(func=cmd_up)
    sub.add_parser("down", help="stop leftovers from pid files").set_defaults(func=cmd_down)
    kafka = sub.add_parser("kafka", help="run only the Kafka broker")
    kafka.add_argument("--port", type=int, help=f"default: ${KAFKA_PORT_ENV} or 9092")
    kafka.add_argument(
        "--controller-port", type=int, help=f"default: ${KAFKA_CONTROLLER_PORT_ENV} or 9093"
    )
    kafka.set_defaults(func=cmd_kafka)
    postgres = sub.add_parser("postgres", help="run only PostgreSQL")
    postgres.add_argument("--port", type=int, help=f"default: ${POSTGRES_PORT_ENV} or 5432")
    postgres.set_defaults(func=cmd_postgres)
    jars = sub.add_parser("jars", help="resolve Kafka's jars with Maven (first run only)")
    jars.add_argument("--verbose", action="store_true", help="show Maven's output")
    jars.set_defaults(func=cmd_jars)
    topics = sub.add_parser("topics", help="create every topic (KAFKA_BOOTSTRAP_SERVERS)")
    topics.add_argument(
        "--bootstrap",
        help=f"default: $KAFKA_BOOTSTRAP_SERVERS or 127.0.0.1:${KAFKA_PORT_ENV} (9092)",
    )
    topics.set_defaults(func=cmd_topics)
    migrate = sub.add_parser("migrate", help="provision and migrate one service")
    migrate.add_argument("service")
    migrate.add_argument("--admin-dsn", help="superuser DSN (default: $DATABASE_URL or local)")
    migrate.add_argument("--database", help="database to use (created if missing)")
    migrate.set_defaults(func=cmd_migrate)
    env = sub.add_parser("env", help="print a service's environment as export lines")
    env.add_argument("service")
    env.set_defaults(func=cmd_env)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `shouwang-dev` console script."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except DevstackError as exc:
        say(f"error: {exc}")
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
