"""`up`'s stack: the servers and services it starts, their environment, and their stopping.

`Stack` checks the ports first, starts (or points at) PostgreSQL and Kafka, provisions each
service's schema, gives every service its environment and launches it, follows its log, and
stops everything in reverse order whatever happened. `cli.py` drives it; `welcome.py` does
what comes once the services are ready.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import NamedTuple

from ._proc import DevstackError, data_dir, port_busy
from .console import follow_file, say, service_label
from .demo import DEMO_CAMPUS, DEMO_LADDER, DEMO_LADDER_ENV
from .kafka import LocalKafka
from .kafka_cluster import LocalKafkaCluster
from .kafka_jars import ensure_kafka_jars
from .kafka_security import SaslSsl, ensure_tls
from .local_ports import (
    KAFKA_CONTROLLER_PORT_ENV,
    KAFKA_PORT_ENV,
    KAFKA_SASL_SSL_ENV,
    POSTGRES_PORT_ENV,
    LocalPorts,
    local_ports,
    ports_record,
)
from .postgres import LocalPostgres
from .provision import ensure_database, has_migrations, normalise_dsn, provision_service
from .services import (
    REGISTRY,
    ServiceInfo,
    ServiceProcess,
    reachable_host,
    service_host,
    service_port,
)
from .sinks import LocalSinks
from .topics import create_topics_sync

LOCAL_DATABASE = "shouwang"
GATEWAY = "gateway"
_COLOURS = ("36", "32", "35", "33", "34", "31")


class _PortNeed(NamedTuple):
    """A port `up` is about to listen on: what needs it, the variable that points that need at
    a running server instead (if any), the variable that moves it, and the address it binds."""

    port: int
    what: str
    server: str | None
    mover: str
    host: str = "127.0.0.1"


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
            env["TRIAGE_CAMPUS_FILE"] = os.environ.get(DEMO_LADDER_ENV) or str(DEMO_LADDER)
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

    def _follow(self, proc: ServiceProcess, colour: str) -> None:
        label = service_label(proc.name)
        if sys.stdout.isatty():
            label = f"\033[{colour}m{label}\033[0m"
        thread = threading.Thread(
            target=follow_file,
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


def _refuse_shared_ports(needed: list[_PortNeed]) -> None:
    """Two of them on one port would each pass the busy check, then collide: refuse now."""
    for port in sorted({need.port for need in needed}):
        movers = [need.mover for need in needed if need.port == port]
        if len(movers) > 1:
            raise DevstackError(f"{' and '.join(movers)} share port {port}: each needs its own")
