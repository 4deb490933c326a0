"""The ports of `make up`'s local Kafka and PostgreSQL, from the environment.

Prefixed with `SHOUWANG_` because Kubernetes' service links already set `KAFKA_PORT` and
`POSTGRES_PORT` (to `tcp://…`) in pods beside services of those names.

A running `up` records the ports it uses in `ports.env` in its data dir (`_proc.data_dir`), so
the commands that talk to it from another terminal (`env`, `migrate`, `topics`) find it without
the variables being set again (`running_ports`). `up` itself reads only the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ._proc import DevstackError, data_dir, env_port

KAFKA_PORT_ENV = "SHOUWANG_KAFKA_PORT"
KAFKA_CONTROLLER_PORT_ENV = "SHOUWANG_KAFKA_CONTROLLER_PORT"
POSTGRES_PORT_ENV = "SHOUWANG_POSTGRES_PORT"
#: `make up` with the local broker on SASL_SSL (any value but empty or 0).
KAFKA_SASL_SSL_ENV = "SHOUWANG_KAFKA_SASL_SSL"

DEFAULT_KAFKA_PORT = 9092
DEFAULT_KAFKA_CONTROLLER_PORT = 9093
DEFAULT_POSTGRES_PORT = 5432


@dataclass(frozen=True, slots=True)
class LocalPorts:
    """Where the local servers listen on 127.0.0.1."""

    kafka: int = DEFAULT_KAFKA_PORT
    kafka_controller: int = DEFAULT_KAFKA_CONTROLLER_PORT
    postgres: int = DEFAULT_POSTGRES_PORT

    @property
    def kafka_bootstrap(self) -> str:
        """The bootstrap string of the local broker, e.g. `127.0.0.1:9092`."""
        return f"127.0.0.1:{self.kafka}"


def local_ports(environ: Mapping[str, str] | None = None) -> LocalPorts:
    """The local servers' ports from `environ` (default `os.environ`); unset or empty = default."""
    env = os.environ if environ is None else environ
    ports = LocalPorts(
        kafka=env_port(env, KAFKA_PORT_ENV, DEFAULT_KAFKA_PORT),
        kafka_controller=env_port(env, KAFKA_CONTROLLER_PORT_ENV, DEFAULT_KAFKA_CONTROLLER_PORT),
        postgres=env_port(env, POSTGRES_PORT_ENV, DEFAULT_POSTGRES_PORT),
    )
    named = {
        KAFKA_PORT_ENV: ports.kafka,
        KAFKA_CONTROLLER_PORT_ENV: ports.kafka_controller,
        POSTGRES_PORT_ENV: ports.postgres,
    }
    for port in set(named.values()):
        sharing = [name for name, value in named.items() if value == port]
        if len(sharing) > 1:
            raise DevstackError(
                f"{' and '.join(sharing)} share port {port}: each local server needs its own"
            )
    return ports


PORT_VARIABLES = (KAFKA_PORT_ENV, KAFKA_CONTROLLER_PORT_ENV, POSTGRES_PORT_ENV)


def ports_record(root: Path) -> Path:
    """Where a running `up` in the checkout at `root` records its ports (in its data dir)."""
    return data_dir(root) / "ports.env"


def record_ports(path: Path, ports: LocalPorts) -> None:
    """Write the ports a running `up` listens on (removed again when it stops)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# Written by `shouwang-dev up` while it runs: the ports of its local servers.\n"
        f"{KAFKA_PORT_ENV}={ports.kafka}\n"
        f"{KAFKA_CONTROLLER_PORT_ENV}={ports.kafka_controller}\n"
        f"{POSTGRES_PORT_ENV}={ports.postgres}\n",
        encoding="utf-8",
    )


def running_ports(path: Path, environ: Mapping[str, str] | None = None) -> LocalPorts:
    """The ports of the running local servers: each variable that is set, else what `up`
    recorded in `path`, else the default."""
    recorded: dict[str, str] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            name, sep, value = line.partition("=")
            if sep and name.strip() in PORT_VARIABLES:
                recorded[name.strip()] = value.strip()
    env = os.environ if environ is None else environ
    given = {name: env[name] for name in PORT_VARIABLES if env.get(name, "").strip()}
    return local_ports({**recorded, **given})
