"""Run Shouwang services as real subprocesses (so a test can `kill -9` one) and know which exist."""

from __future__ import annotations

import asyncio
import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ._proc import (
    DevstackError,
    env_port,
    file_size,
    kill_now,
    repo_root,
    spawn,
    tail,
    terminate,
    write_pid,
)


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
class ServiceProcess:
    """One service as a subprocess: env, log file, readiness on `GET /readyz`, stop and kill.

    The environment is this process's plus `env`, with `<SVC>_PORT` / `<SVC>_HOST` set from
    `port` / `host` and unbuffered output.
    """

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
    def pid(self) -> int | None:
        """Pid while running, else None."""
        if self._proc is not None and self._proc.poll() is None:
            return self._proc.pid
        return None

    @property
    def log_offset(self) -> int:
        """Byte offset in the log file where the current run's output starts."""
        return self._log_offset

    @property
    def returncode(self) -> int | None:
        """Exit code once the process has ended."""
        return None if self._proc is None else self._proc.poll()

    def is_running(self) -> bool:
        """True while the process is alive."""
        return self.pid is not None

    def full_env(self) -> dict[str, str]:
        """The environment the process gets."""
        env = dict(os.environ) if self.inherit_env else {"PATH": os.environ.get("PATH", "")}
        env.update(self.env)
        env[self.info.port_env] = str(self.port)
        env[self.info.host_env] = self.host  # where `ready()` and `base_url` look for it
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def launch(self) -> None:
        """Start the process without waiting for readiness."""
        if self.is_running():
            return
        self._log_offset = file_size(self.log_path)
        self._proc = spawn(
            service_command(self.info),
            log_path=self.log_path,
            env=self.full_env(),
            die_with_parent=self.die_with_parent,
        )
        if self.pid_path is not None:
            write_pid(self.pid_path, self._proc.pid, self.info.module)

    def _check_alive(self) -> None:
        if self._proc is None:
            raise DevstackError(f"{self.name} was not started")
        code = self._proc.poll()
        if code is not None:
            raise DevstackError(
                f"{self.name} exited with code {code} before it was ready; "
                f"last lines of {self.log_path}:\n" + tail(self.log_path, 40, self._log_offset)
            )

    def ready(self) -> bool:
        """True when `GET /readyz` answers 200."""
        assert self.port is not None
        return _http_status(reachable_host(self.host), self.port, "/readyz") == 200

    def _timeout_error(self, timeout: float) -> DevstackError:
        return DevstackError(
            f"{self.name} did not answer 200 on {self.base_url}/readyz within {timeout:.0f}s; "
            f"last lines of {self.log_path}:\n" + tail(self.log_path, 40, self._log_offset)
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Block until `/readyz` is 200 (fail with the log's tail on exit or timeout)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            if self.ready():
                return
            time.sleep(0.2)
        raise self._timeout_error(timeout)

    async def wait_ready_async(self, within: float = 60.0) -> None:
        """`wait_ready` without blocking the event loop."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            self._check_alive()
            if await asyncio.to_thread(self.ready):
                return
            await asyncio.sleep(0.2)
        raise self._timeout_error(within)

    def start(self, timeout: float = 60.0) -> ServiceProcess:
        """Launch and wait until ready."""
        self.launch()
        self.wait_ready(timeout)
        return self

    async def start_async(self, within: float = 60.0) -> ServiceProcess:
        """Launch and wait until ready, without blocking the event loop."""
        self.launch()
        await self.wait_ready_async(within)
        return self

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, wait up to `timeout`, then SIGKILL. Returns the exit code."""
        code = terminate(self._proc, sig=signal.SIGTERM, timeout=timeout)
        if self.pid_path is not None:
            self.pid_path.unlink(missing_ok=True)
        return code

    async def stop_async(self, within: float = 15.0) -> int | None:
        """`stop()` in a worker thread."""
        return await asyncio.to_thread(self.stop, within)

    def kill(self) -> None:
        """SIGKILL right away (`kill -9`), for crash tests."""
        kill_now(self._proc)
        if self.pid_path is not None:
            self.pid_path.unlink(missing_ok=True)

    def restart(self, timeout: float = 60.0) -> ServiceProcess:
        """Stop (if running) and start again with the same env and port."""
        self.stop()
        return self.start(timeout)

    async def restart_async(self, within: float = 60.0) -> ServiceProcess:
        """`restart()` without blocking the event loop while waiting."""
        await self.stop_async()
        return await self.start_async(within)

    def log_text(self) -> str:
        """Everything the process logged since its last start."""
        return tail(self.log_path, 10_000, self._log_offset)


#: What the `service_process` fixtures give: `factory(name, env=None, *, port=None)` builds a
#: ServiceProcess, not started (`pytest_services`).
ServiceProcessFactory = Callable[..., ServiceProcess]
