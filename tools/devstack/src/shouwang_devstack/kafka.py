"""A real single-node Apache Kafka (KRaft) broker from Maven Central jars and the machine's Java.

No Docker, no download site: `deploy/local/pom.xml` names the broker and a log4j2 backend, Maven
copies the jars into `<repo>/.cache/kafka/libs` (`kafka_jars`), and `LocalKafka` runs
`kafka.Kafka` with them.
`kafka_tool_command` runs Kafka's own command-line tools (e.g. its producer benchmark) from the
same jars.
"""

from __future__ import annotations

import base64
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._proc import (
    DevstackError,
    repo_root,
    require_free_port,
)
from .kafka_jars import ensure_kafka_jars, find_java
from .kafka_security import SaslSsl
from .lifecycle import ManagedProcess

READY_LINE = b"Kafka Server started"
PID_MARKER = "kafka.Kafka"


def _log4j_config(root: Path, name: str) -> Path:
    path = root / "deploy" / "local" / name
    if not path.is_file():
        raise DevstackError(
            f"{path} is missing: Kafka's Java processes need a log4j2 configuration"
        )
    return path.resolve()


def kafka_tool_command(
    main_class: str, *args: str, heap: str = "256m", root: Path | None = None
) -> list[str]:
    """The java command line that runs one of Kafka's tools (the class behind a `bin/*.sh`
    script of Kafka's distribution, e.g. `org.apache.kafka.tools.ProducerPerformance` for
    `kafka-producer-perf-test.sh`) from the resolved jars, with a small heap and warnings-only
    logging on stderr."""
    root = root or repo_root()
    return [
        find_java(),
        f"-Xmx{heap}",
        "-Djava.awt.headless=true",
        "-cp",
        str(ensure_kafka_jars(root)) + "/*",
        f"-Dlog4j2.configurationFile={_log4j_config(root, 'log4j2-tools.properties')}",
        main_class,
        *args,
    ]


def new_cluster_id() -> str:
    """A KRaft cluster id: 22-character base64url of a random UUID, as Kafka's Uuid prints it."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not text.startswith("-"):  # Kafka avoids ids a command line would take for a flag
            return text


@dataclass
class LocalKafka(ManagedProcess):
    """One combined broker+controller KRaft node on 127.0.0.1.

    `data_dir` holds the properties, the log dirs, the broker's stdout log (`kafka.log`) and a
    pid file; it survives `stop()`/`start()` so a restarted broker keeps its topics and records.
    Controlled shutdown on `stop()` (SIGTERM); `start()` waits up to 90 s for the broker.
    """

    READY_WITHIN = 90.0
    PID_MARKER = PID_MARKER  # the main class, on the command line

    data_dir: Path
    port: int = 9092
    controller_port: int = 9093
    host: str = "127.0.0.1"
    heap: str = "512m"
    die_with_parent: bool = False
    extra_properties: dict[str, str] = field(default_factory=dict)
    root: Path | None = None
    # With it, clients speak SASL_SSL (SCRAM users, ACLs checked); without, PLAINTEXT.
    sasl_ssl: SaslSsl | None = None
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _log_offset: int = field(default=0, init=False, repr=False)
    #: The broker's stdout/stderr (log4j writes to stdout).
    log_path: Path = field(init=False, repr=False)
    #: Pid file `shouwang-dev down` reads to stop a leftover broker.
    pid_path: Path | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).resolve()
        self.log_path = self.data_dir / "kafka.log"
        self.pid_path = self.data_dir / "kafka.pid"

    @property
    def what(self) -> str:
        return "Kafka"

    # paths -------------------------------------------------------------------------------
    @property
    def bootstrap(self) -> str:
        """The bootstrap string clients use, e.g. `127.0.0.1:9092`."""
        return f"{self.host}:{self.port}"

    @property
    def properties_path(self) -> Path:
        """The generated server.properties."""
        return self.data_dir / "server.properties"

    @property
    def log_dirs(self) -> Path:
        """Where the broker keeps partitions and the metadata log."""
        return self.data_dir / "kraft-logs"

    # configuration -----------------------------------------------------------------------
    def properties(self) -> dict[str, str]:
        """The server.properties of a single-node KRaft cluster (static quorum)."""
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{self.host}:{self.controller_port}",
            "listeners": f"PLAINTEXT://{self.host}:{self.port},CONTROLLER://{self.host}:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{self.host}:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.log_dirs),
            "num.partitions": "1",
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "10",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            # After a kill -9 the controller waits out the dead incarnation's session before
            # the restarted broker is let in: 9 s by default, 4 s here.
            "broker.session.timeout.ms": "4000",
            "broker.heartbeat.interval.ms": "500",
            "auto.create.topics.enable": "false",
            "delete.topic.enable": "true",
            "num.network.threads": "2",
            "num.io.threads": "4",
            "log.retention.hours": "168",
            "log.segment.bytes": str(64 * 1024 * 1024),
        }
        if self.sasl_ssl is not None:
            props.update(
                self.sasl_ssl.broker_properties(self.host, self.port, self.controller_port)
            )
        props.update(self.extra_properties)
        return props

    def write_properties(self) -> Path:
        """Write server.properties into the data dir and return its path."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        body = "".join(f"{key}={value}\n" for key, value in self.properties().items())
        self.properties_path.write_text(
            "# Written by shouwang_devstack.kafka.LocalKafka; regenerated on every start.\n" + body,
            encoding="utf-8",
        )
        return self.properties_path

    def cluster_id(self) -> str:
        """This data dir's cluster id, generated once and kept in `cluster.id`."""
        path = self.data_dir / "cluster.id"
        if path.is_file():
            return path.read_text(encoding="utf-8").strip()
        cid = new_cluster_id()
        path.write_text(cid + "\n", encoding="utf-8")
        return cid

    def _classpath(self) -> str:
        return str(ensure_kafka_jars(self.root)) + "/*"

    def format_storage(self) -> None:
        """Format the log dirs once (`StorageTool format -g`); a formatted dir is left alone."""
        if (self.log_dirs / "meta.properties").is_file():
            return
        argv = kafka_tool_command(
            "kafka.tools.StorageTool",
            "format",
            "-t",
            self.cluster_id(),
            "-c",
            str(self.properties_path),
            "-g",
            *(self.sasl_ssl.format_arguments() if self.sasl_ssl is not None else ()),
            root=self.root,
        )
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise DevstackError(
                f"formatting Kafka storage in {self.log_dirs} failed (exit {result.returncode}):\n"
                + (result.stdout + result.stderr)[-3000:]
            )

    def command(self) -> list[str]:
        """The java command line that runs the broker."""
        return [
            find_java(),
            f"-Xmx{self.heap}",
            "-Xms256m",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            "-cp",
            self._classpath(),
            f"-Dlog4j2.configurationFile={_log4j_config(self.root or repo_root(), 'log4j2.properties')}",
            f"-Dkafka.logs.dir={self.data_dir / 'logs'}",
            PID_MARKER,
            str(self.properties_path),
        ]

    # lifecycle ---------------------------------------------------------------------------
    def before_launch(self) -> None:
        self.refuse_leftover(self.data_dir)
        require_free_port(self.port, "Kafka", "KAFKA_BOOTSTRAP_SERVERS", self.host)
        require_free_port(self.controller_port, "Kafka's controller", "KAFKA_BOOTSTRAP_SERVERS")
        self.write_properties()
        self.format_storage()

    def spawn_options(self) -> dict[str, Any]:
        return {"cwd": self.data_dir}

    def ready(self) -> bool:
        """True once the broker's log (since this launch) says it started."""
        try:
            with self.log_path.open("rb") as handle:
                handle.seek(self._log_offset)
                return READY_LINE in handle.read()
        except FileNotFoundError:
            return False

    def not_ready(self) -> str:
        return f"did not say '{READY_LINE.decode()}'"
