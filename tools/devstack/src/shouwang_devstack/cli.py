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
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import NamedTuple

from ._proc import DevstackError, data_dir, port_busy, repo_root, stop_from_pid_file
from .demo import (
    DEMO_CAMPUS,
    DEMO_LADDER,
    DEMO_PEOPLE,
    DemoClient,
    load_demo_campus,
    samples_dir,
    token_command,
)
from .kafka import LocalKafka, ensure_kafka_jars
from .kafka_cluster import LocalKafkaCluster
from .kafka_security import SaslSsl, ensure_tls
from .local_ports import (
    KAFKA_CONTROLLER_PORT_ENV,
    KAFKA_PORT_ENV,
    KAFKA_SASL_SSL_ENV,
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
from .services import (
    REGISTRY,
    ServiceInfo,
    ServiceProcess,
    present_services,
    reachable_host,
    service_host,
    service_info,
    service_port,
)
from .sinks import LocalSinks
from .topics import create_topics_sync

LOCAL_DATABASE = "shouwang"
GATEWAY = "gateway"
DEMO_ACCOUNTS_FILE = "demo-accounts.json"
_COLOURS = ("36", "32", "35", "33", "34", "31")


class _PortNeed(NamedTuple):
    """A port `up` is about to listen on: what needs it, the variable that points that need at
    a running server instead (if any), the variable that moves it, and the address it binds."""

    port: int
    what: str
    server: str | None
    mover: str
    host: str = "127.0.0.1"


# `up`'s own messages and its log tailers (one thread per service) share stdout.
_STDOUT = threading.RLock()


def print_line(text: str) -> None:
    """Print one whole line and flush, in a single write: `print` writes the text and its
    newline separately, which glues together lines printed from several threads at once."""
    with _STDOUT:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()


def say(message: str) -> None:
    """Print a devstack message, flushed at once."""
    print_line(f"[devstack] {message}")


class Stack:
    """What `up` started, so it can be stopped in reverse order whatever happens."""

    def __init__(self, root: Path, ports: LocalPorts | None = None) -> None:
        self.root = root
        self.ports = ports or local_ports()
        self.data = data_dir(root)
        self.ports_path = ports_record(root)
        self.kafka: LocalKafka | LocalKafkaCluster | None = None
        self.brokers = 1
        # The demo campus: its roster and contacts loaded, its ladder in seconds.
        self.demo = True
        # SHOUWANG_KAFKA_SASL_SSL=1: the local broker checks who speaks (kafka_security.py).
        self.sasl: SaslSsl | None = None
        self.postgres: LocalPostgres | None = None
        self.services: list[ServiceProcess] = []
        self.bootstrap = ""
        self.admin_dsn = ""
        self.database = LOCAL_DATABASE
        self.secrets: dict[str, str] = {}
        self.sinks: LocalSinks | None = None
        self._tailers: list[threading.Thread] = []
        self._stop_tailing = threading.Event()

    def preflight(self, services: list[ServiceInfo]) -> None:
        """Fail before starting anything when a port `up` needs is taken or wanted twice."""
        needed = self._needed_ports(services)
        _refuse_shared_ports(needed)
        busy = [need for need in needed if port_busy(need.port, need.host)]
        if busy:
            lines = [
                f"  port {need.port} busy on {need.host} (needed by {need.what})" for need in busy
            ]
            servers = sorted({need.server for need in busy if need.server})
            movers = [need.mover for need in busy]
            advice = "A leftover devstack? `make down` stops it. Otherwise stop whatever listens"
            advice += " (`ss -ltnp` shows the owners)"
            advice += f", choose other ports with {' / '.join(movers)}"
            if servers:
                advice += f", or point {' / '.join(servers)} at servers that already run"
            raise DevstackError("cannot start:\n" + "\n".join(lines) + "\n" + advice + ".")

    def _needed_ports(self, services: list[ServiceInfo]) -> list[_PortNeed]:
        """The ports `up` is about to listen on, with the variables that move or avoid each."""
        needed: list[_PortNeed] = []
        if not os.environ.get("DATABASE_URL"):
            needed.append(
                _PortNeed(self.ports.postgres, "PostgreSQL", "DATABASE_URL", POSTGRES_PORT_ENV)
            )
        if not os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
            external = "KAFKA_BOOTSTRAP_SERVERS"
            needed.append(_PortNeed(self.ports.kafka, "Kafka", external, KAFKA_PORT_ENV))
            needed.append(
                _PortNeed(
                    self.ports.kafka_controller,
                    "Kafka's controller",
                    external,
                    KAFKA_CONTROLLER_PORT_ENV,
                )
            )
        needed += [
            _PortNeed(service_port(info), info.name, None, info.port_env, service_host(info))
            for info in services
        ]
        return needed

    # servers ----------------------------------------------------------------------------------
    def start_kafka(self) -> None:
        """Use KAFKA_BOOTSTRAP_SERVERS, or start the local broker on 127.0.0.1 (`self.ports`)."""
        external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if external:
            self.bootstrap = external
            say(f"Kafka: using KAFKA_BOOTSTRAP_SERVERS={external}")
            return
        ensure_kafka_jars(self.root)
        sasl_ssl = os.environ.get(KAFKA_SASL_SSL_ENV, "") not in ("", "0")
        if self.brokers > 1:
            if sasl_ssl:
                raise DevstackError(
                    f"--brokers {self.brokers} runs a plaintext cluster: unset {KAFKA_SASL_SSL_ENV}"
                )
            self._start_cluster()
            return
        folder = "kafka"
        if sasl_ssl:
            # Its own data dir: SCRAM users are made when the storage is formatted.
            folder = "kafka-sasl"
            self.sasl = SaslSsl(
                ensure_tls(self.data / folder / "tls"),
                secret=self.secrets["SHOUWANG_DB_ROLE_SECRET"],
            )
            say("Kafka: SASL_SSL (SCRAM-SHA-512 user per service, ACLs, CA in the data dir)")
        kafka = LocalKafka(
            self.data / folder,
            port=self.ports.kafka,
            controller_port=self.ports.kafka_controller,
            root=self.root,
            sasl_ssl=self.sasl,
        )
        say(f"Kafka: starting on {kafka.bootstrap} (log {kafka.log_path})")
        self.kafka = kafka
        kafka.start()
        self.bootstrap = kafka.bootstrap
        say("Kafka: ready")

    def _start_cluster(self) -> None:
        """`--brokers N`: N KRaft nodes on 127.0.0.1, brokers on the Kafka port and every second
        port after it, controllers likewise from the controller port (9092, 9094, 9096 and
        9093, 9095, 9097 by default), each in `<data>/kafka-cluster/node-<id>`."""
        cluster = LocalKafkaCluster(
            self.data / "kafka-cluster",
            size=self.brokers,
            ports=[self.ports.kafka + 2 * i for i in range(self.brokers)],
            controller_ports=[self.ports.kafka_controller + 2 * i for i in range(self.brokers)],
            root=self.root,
        )
        say(f"Kafka: starting {self.brokers} brokers on {cluster.bootstrap}")
        self.kafka = cluster
        cluster.start()
        self.bootstrap = cluster.bootstrap
        say("Kafka: cluster ready (replication 3, min.insync.replicas 2)")

    def create_topics(self) -> None:
        specs = self.kafka.specs if isinstance(self.kafka, LocalKafkaCluster) else None
        admin = self.sasl.client() if self.sasl is not None else None
        results = create_topics_sync(self.bootstrap, specs, client=admin)
        created = sum(r.outcome == "created" for r in results)
        say(f"Kafka: {len(results)} topics present ({created} created now)")

    def start_postgres(self) -> None:
        """Use DATABASE_URL as the admin DSN, or start local PostgreSQL on 127.0.0.1 (`self.ports`)."""
        external = os.environ.get("DATABASE_URL")
        if external:
            self.admin_dsn = normalise_dsn(external)
            self.database = self.admin_dsn.rsplit("/", 1)[1].split("?")[0] or "postgres"
            say("PostgreSQL: using DATABASE_URL")
            return
        server = LocalPostgres(self.data / "postgres", port=self.ports.postgres)
        say(f"PostgreSQL: starting on 127.0.0.1:{server.port} (log {server.log_path})")
        self.postgres = server
        server.start()
        self.admin_dsn = server.dsn
        say(f"PostgreSQL: ready; superuser password in {server.password_path}")

    def provision(self, services: list[ServiceInfo]) -> dict[str, str]:
        """Provision and migrate every service that has migrations; returns name -> DSN."""
        dsns: dict[str, str] = {}
        if self.postgres is not None:
            ensure_database(self.admin_dsn, self.database)
        for info in services:
            if not has_migrations(info.name, self.root):
                continue
            dsns[info.name] = provision_service(
                self.admin_dsn,
                info.name,
                self.database,
                secret=self.secrets["SHOUWANG_DB_ROLE_SECRET"],
                root=self.root,
            )
            say(f"PostgreSQL: {info.name} provisioned and migrated (schema {info.name})")
        return dsns

    # services ---------------------------------------------------------------------------------
    def service_env(self, info: ServiceInfo, dsns: dict[str, str]) -> dict[str, str]:
        """The environment a service gets under `up`."""
        env = {k: v for k, v in self.secrets.items() if k != "SHOUWANG_DB_ROLE_SECRET"}
        env["SHOUWANG_ENV"] = "local"
        env["KAFKA_BOOTSTRAP_SERVERS"] = self.bootstrap
        if self.sasl is not None:
            env.update(self.sasl.service_env(info.name))
        if info.name in dsns:
            env[info.database_env] = dsns[info.name]
        if info.name == "notify":
            if self.sinks is None:
                self.sinks = LocalSinks(self.data).start()
                say(
                    f"sinks: mail in {self.sinks.mail_dir} (SMTP 127.0.0.1:{self.sinks.smtp_port}),"
                    f" robots, SMS and webhooks in {self.sinks.webhooks_dir} ({self.sinks.http_url})"
                )
            env.update(self.sinks.notify_env())
            env["NOTIFY_PUBLIC_BASE_URL"] = f"http://127.0.0.1:{service_port(info)}"
            # A confirmed link's page links on to the case in the web app, on the gateway.
            gateway = REGISTRY[GATEWAY]
            env["NOTIFY_APP_BASE_URL"] = (
                f"http://{reachable_host(service_host(gateway))}:{service_port(gateway)}"
            )
        if info.name == "triage" and self.demo:
            env["TRIAGE_CAMPUS_FILE"] = str(DEMO_LADDER)
        if info.name == "casework" and self.demo:
            env["CASEWORK_CAMPUSES"] = json.dumps([DEMO_CAMPUS])
            # `make demo` plays a term at machine speed as the counseling center, polling the
            # queue and the reported student's cases twice a second until a report's case
            # opens: the per-person limits (SHOUWANG_PER_PERSON_*, SHOUWANG_AUDITED_READS_*)
            # exist to stop reads at that pace. Off for the demo's casework only, locally;
            # every other service keeps them.
            env["SHOUWANG_PER_PERSON_PER_MINUTE"] = "0"
            env["SHOUWANG_AUDITED_READS_PER_HOUR"] = "0"
        if info.name == GATEWAY:
            # The gateway mints tokens only: it never pseudonymises nor opens a note.
            env.pop("SHOUWANG_PSEUDONYM_KEY", None)
            env.pop("SHOUWANG_NOTE_KEYS", None)
            # It forwards to the services wherever `up` runs them.
            for other in REGISTRY.values():
                if other.name != GATEWAY:
                    host = reachable_host(service_host(other))
                    env[f"GATEWAY_{other.name.upper()}_URL"] = (
                        f"http://{host}:{service_port(other)}"
                    )
        # What the developer exported wins over our defaults.
        env.update({k: v for k, v in os.environ.items() if k in env and k != "SHOUWANG_ENV"})
        return env

    def service_process(self, info: ServiceInfo, dsns: dict[str, str]) -> ServiceProcess:
        """The service as `up` runs it (not started): on `<SVC>_PORT` when set, logs in data."""
        logs = self.data / "logs"
        return ServiceProcess(
            info.name,
            log_path=logs / f"{info.name}.log",
            env=self.service_env(info, dsns),
            port=service_port(info),
            host=service_host(info),
            pid_path=logs / f"{info.name}.pid",
        )

    def start_services(self, services: list[ServiceInfo], dsns: dict[str, str]) -> None:
        """Launch every service, follow their logs, wait for each `/readyz`."""
        for index, info in enumerate(services):
            proc = self.service_process(info, dsns)
            say(f"{info.name}: starting on {proc.base_url} (log {proc.log_path})")
            proc.launch()
            self.services.append(proc)
            self._follow(proc, _COLOURS[index % len(_COLOURS)])
        for proc in self.services:
            proc.wait_ready(90)
            say(f"{proc.name}: ready on {proc.base_url}")

    def load_demo_campus(self) -> None:
        """The demo campus from `samples/` through casework's and notify's import APIs."""
        running = {proc.name for proc in self.services}
        if not {"casework", "notify"} <= running:
            say("demo campus: not loaded (needs casework and notify)")
            return
        client = DemoClient(
            secret=self.secrets["SHOUWANG_JWT_SECRET"],
            urls={proc.name: proc.base_url for proc in self.services},
            data=self.data,
        )
        try:
            for line in load_demo_campus(client, samples_dir(self.root)):
                say(f"demo campus `{DEMO_CAMPUS}`: {line}")
        finally:
            client.close()

    def where_everything_is(self) -> None:
        """The map a newcomer needs: APIs and their docs, sinks, tokens, data."""
        say("where everything is:")
        for proc in self.services:
            docs = "" if proc.name == GATEWAY else f"  (docs {proc.base_url}/docs)"
            say(f"  {proc.name:<9} {proc.base_url}{docs}")
        if self.sinks is not None:
            say(
                f"  mail      {self.sinks.mail_dir}/*.eml  (SMTP sink 127.0.0.1:{self.sinks.smtp_port})"
            )
            say(f"  robots, SMS, webhooks  {self.sinks.webhooks_dir}/<channel>.jsonl")
        say(f"  logs      {self.data / 'logs'}/<service>.log")
        say(f"  secrets   {self.data / 'local.env'}")
        say("a token per demo role (as `Authorization: Bearer $TOKEN`):")
        for role in DEMO_PEOPLE:
            say(f"  {role.value:<24} {token_command(role)}")
        say("play a term against it: `make demo` (in another terminal)")

    def seed_demo_accounts(self) -> None:
        """The demo campus's sign-ins (one per role), fresh passwords printed here only.

        The gateway's own CLI writes them (argon2id hashes in its database) and to the data
        dir's `demo-accounts.json` (mode 0600) for tests that sign in as someone.
        """
        gateway = next((p for p in self.services if p.name == GATEWAY), None)
        if gateway is None:
            return
        command = [*_console_script("shouwang-gateway-accounts"), "seed-demo"]
        command += ["--passwords-json", str(self.data / DEMO_ACCOUNTS_FILE)]
        done = subprocess.run(
            command,
            env=gateway.full_env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            say(f"demo accounts: not created ({done.stderr.strip()[-300:]})")
            return
        say(
            f"web app: {gateway.base_url}  (demo campus `demo`; local passwords, never for production)"
        )
        for line in done.stdout.splitlines():
            say(line)

    def _follow(self, proc: ServiceProcess, colour: str) -> None:
        width = max(len(name) for name in ("casework", proc.name))
        label = f"{proc.name:<{width}} |"
        if sys.stdout.isatty():
            label = f"\033[{colour}m{label}\033[0m"
        thread = threading.Thread(
            target=_follow_file,
            args=(proc.log_path, proc.log_offset, label, self._stop_tailing),
            name=f"tail-{proc.name}",
            daemon=True,
        )
        thread.start()
        self._tailers.append(thread)

    def dead_service(self) -> ServiceProcess | None:
        """The first service that has exited, if any."""
        return next((p for p in self.services if p.returncode is not None), None)

    # shutdown ---------------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop services (reverse order), then Kafka, then PostgreSQL. Never raises."""
        for proc in reversed(self.services):
            if proc.is_running():
                say(f"{proc.name}: stopping")
            try:
                proc.stop()
            except Exception as exc:
                say(f"{proc.name}: could not stop cleanly: {exc}")
        time.sleep(0.3)  # let the tailers print the last lines
        self._stop_tailing.set()
        if self.sinks is not None:
            self.sinks.stop()
        servers: list[tuple[str, LocalKafka | LocalKafkaCluster | LocalPostgres | None]] = [
            ("Kafka", self.kafka),
            ("PostgreSQL", self.postgres),
        ]
        for label, server in servers:
            if server is None:
                continue
            if server.is_running():
                say(f"{label}: stopping")
            try:
                server.stop()
            except Exception as exc:
                say(f"{label}: could not stop cleanly: {exc}")
        self.ports_path.unlink(missing_ok=True)
        say("stopped")


def _console_script(name: str) -> list[str]:
    """A console script next to this interpreter (the workspace's venv)."""
    return [str(Path(sys.executable).parent / name)]


def _refuse_shared_ports(needed: list[_PortNeed]) -> None:
    """Two of them on one port would each pass the busy check, then collide: refuse now."""
    for port in sorted({need.port for need in needed}):
        movers = [need.mover for need in needed if need.port == port]
        if len(movers) > 1:
            raise DevstackError(f"{' and '.join(movers)} share port {port}: each needs its own")


_QUIET_KEYS = {"time", "level", "logger", "message", "service", "color_message", "taskName"}


def render_line(line: str) -> str:
    """A JSON log line as `HH:MM:SS LEVEL message (logger) key=value…`; other lines unchanged."""
    if not line.startswith("{"):
        return line
    try:
        record = json.loads(line)
    except ValueError:
        return line
    if not isinstance(record, dict) or "message" not in record:
        return line
    stamp = str(record.get("time", ""))
    clock = stamp[11:23] if len(stamp) >= 19 else stamp
    extras = " ".join(
        f"{key}={value}"
        for key, value in record.items()
        if key not in _QUIET_KEYS and value not in (None, "", [], {})
    )
    text = f"{clock} {record.get('level', '')!s:<7} {record['message']}"
    if record.get("logger"):
        text += f"  ({record['logger']})"
    return f"{text}  {extras}" if extras else text


def _follow_file(path: Path, offset: int, label: str, stop: threading.Event) -> None:
    """Print new lines of `path` with a prefix until `stop` is set (then drain what is left)."""
    while not path.exists() and not stop.is_set():
        time.sleep(0.1)
    if not path.exists():
        return
    with path.open("rb") as handle:
        handle.seek(offset)
        pending = b""
        while True:
            chunk = handle.readline()
            if chunk:
                pending += chunk
                if pending.endswith(b"\n"):
                    line = pending.decode("utf-8", errors="replace").rstrip("\n")
                    print_line(f"{label} {render_line(line)}")
                    pending = b""
                continue
            if stop.is_set():
                if pending:
                    print_line(f"{label} {pending.decode('utf-8', errors='replace')}")
                return
            time.sleep(0.1)


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
                    stack.load_demo_campus()
                stack.seed_demo_accounts()
                stack.where_everything_is()
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
