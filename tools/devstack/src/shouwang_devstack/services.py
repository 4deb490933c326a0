"""Run Shouwang services as real subprocesses (so a test can `kill -9` one) and know which exist."""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._proc import (
    DevstackError,
    env_port,
    repo_root,
)
from .lifecycle import ManagedProcess


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    """A known service: its name, default port and Python package."""

    name: str
    port: int

    @property
    def module(self) -> str:
        """The package, e.g. `shouwang_intake`."""
        return f"shouwang_{self.name}"

    @property
    def script(self) -> str:
        """The console script, e.g. `shouwang-intake`."""
        return f"shouwang-{self.name}"

    @property
    def env_prefix(self) -> str:
        """The settings prefix, e.g. `INTAKE_`."""
        return self.name.upper() + "_"

    @property
    def port_env(self) -> str:
        """The variable that moves the service, e.g. `INTAKE_PORT`."""
        return self.env_prefix + "PORT"

    @property
    def host_env(self) -> str:
        """The variable that says where the service binds, e.g. `INTAKE_HOST`."""
        return self.env_prefix + "HOST"

    @property
    def database_env(self) -> str:
        """The variable holding the service's database URL, e.g. `INTAKE_DATABASE_URL`."""
        return self.env_prefix + "DATABASE_URL"


#: Every service the platform knows, in start order.
REGISTRY: dict[str, ServiceInfo] = {
    info.name: info
    for info in (
        ServiceInfo("intake", 8001),
        ServiceInfo("triage", 8002),
        ServiceInfo("casework", 8003),
        ServiceInfo("notify", 8004),
        ServiceInfo("stats", 8005),
        # Last: it forwards to the others, and serves the web app on one origin.
        ServiceInfo("gateway", 8080),
    )
}


def service_info(name: str) -> ServiceInfo:
    """The registry entry for `name`, or a clear error."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise DevstackError(f"unknown service {name!r}; known: {', '.join(REGISTRY)}") from None


def service_port(info: ServiceInfo, environ: Mapping[str, str] | None = None) -> int:
    """Where `up` runs the service: `<SVC>_PORT` in `environ` (default `os.environ`) when set,
    else the registry's port. A value that is no port number is refused by name."""
    env = os.environ if environ is None else environ
    return env_port(env, info.port_env, info.port)


def service_host(info: ServiceInfo, environ: Mapping[str, str] | None = None) -> str:
    """Where `up` binds the service: `<SVC>_HOST` in `environ` (default `os.environ`) when set
    and not blank, else 127.0.0.1."""
    env = os.environ if environ is None else environ
    return env.get(info.host_env, "").strip() or "127.0.0.1"


def reachable_host(host: str) -> str:
    """The address to reach a server bound to `host`: loopback for a wildcard bind."""
    if host in ("0.0.0.0", ""):  # noqa: S104 - compared, not bound
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


def present_services(root: Path | None = None) -> list[ServiceInfo]:
    """Services built in this checkout: those with a package, `services/<name>/src/shouwang_<name>`.

    A service not built yet (notify, stats) has a folder and a workspace pyproject only, and
    nothing to run.
    """
    base = (root or repo_root()) / "services"
    return [
        info
        for info in REGISTRY.values()
        if (base / info.name / "src" / f"shouwang_{info.name}" / "__init__.py").is_file()
    ]


def service_command(info: ServiceInfo) -> list[str]:
    """The console script next to this interpreter, else `python -m shouwang_<svc>.main`."""
    script = Path(sys.executable).parent / info.script
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", f"{info.module}.main"]


def _http_status(host: str, port: int, path: str, timeout: float = 2.0) -> int | None:
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    except OSError:
        return None
    finally:
        conn.close()


@dataclass
class ServiceProcess(ManagedProcess):
    """One service as a subprocess: env, log file, readiness on `GET /readyz`, stop and kill.

    The environment is this process's plus `env`, with `<SVC>_PORT` / `<SVC>_HOST` set from
    `port` / `host` and unbuffered output.
    """

    STOP_WITHIN = 15.0

    name: str
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int | None = None
    host: str = "127.0.0.1"
    inherit_env: bool = True
    die_with_parent: bool = False
    pid_path: Path | None = None
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _log_offset: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        self.info = service_info(self.name)
        if self.port is None:
            self.port = self.info.port
        self.log_path = Path(self.log_path)

    @property
    def base_url(self) -> str:
        """`http://<host>:<port>`, with loopback for a wildcard host (0.0.0.0, ::)."""
        host = reachable_host(self.host)
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    @property
    def what(self) -> str:
        return self.name

    @property
    def pid_marker(self) -> str:
        # The command's last word: the console script's path (`.venv/bin/shouwang-intake`,
        # which the interpreter's command line shows) or `shouwang_intake.main` under `-m`.
        # The package name alone is in neither, so `make down` left every service running.
        return self.command()[-1]

    @property
    def log_offset(self) -> int:
        """Byte offset in the log file where the current run's output starts."""
        return self._log_offset

    @property
    def returncode(self) -> int | None:
        """Exit code once the process has ended."""
        return None if self._proc is None else self._proc.poll()

    def full_env(self) -> dict[str, str]:
        """The environment the process gets."""
        env = dict(os.environ) if self.inherit_env else {"PATH": os.environ.get("PATH", "")}
        env.update(self.env)
        env[self.info.port_env] = str(self.port)
        env[self.info.host_env] = self.host  # where `ready()` and `base_url` look for it
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def command(self) -> list[str]:
        return service_command(self.info)

    def spawn_options(self) -> dict[str, Any]:
        return {"env": self.full_env()}

    def ready(self) -> bool:
        """True when `GET /readyz` answers 200."""
        assert self.port is not None
        return _http_status(reachable_host(self.host), self.port, "/readyz") == 200

    def not_ready(self) -> str:
        return f"did not answer 200 on {self.base_url}/readyz"


#: What the `service_process` fixtures give: `factory(name, env=None, *, port=None)` builds a
#: ServiceProcess, not started (`pytest_services`).
ServiceProcessFactory = Callable[..., ServiceProcess]
