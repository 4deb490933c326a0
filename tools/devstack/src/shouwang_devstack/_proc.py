"""Small process, port and path helpers shared by the local servers and service runners."""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import psutil

_PR_SET_PDEATHSIG = 1

DATA_DIR_ENV = "SHOUWANG_DATA_DIR"


class DevstackError(RuntimeError):
    """Something the developer can fix: a missing tool, a busy port, a server that did not start."""


def repo_root() -> Path:
    """The repository root: `SHOUWANG_REPO_ROOT`, else the nearest parent holding `deploy/local/pom.xml`.

    Looks upwards from the working directory first, then from this file (an editable install
    lives inside the repository).
    """
    explicit = os.environ.get("SHOUWANG_REPO_ROOT")
    if explicit:
        return Path(explicit).resolve()
    for start in (Path.cwd(), Path(__file__).resolve()):
        for candidate in (start, *start.parents):
            if (candidate / "deploy" / "local" / "pom.xml").is_file():
                return candidate
    raise DevstackError(
        "cannot find the repository root (no deploy/local/pom.xml above the working directory); "
        "run from inside the repository or set SHOUWANG_REPO_ROOT"
    )


def data_dir(root: Path, environ: Mapping[str, str] | None = None) -> Path:
    """Where the devstack keeps local state (server data, logs, pid files, secrets, ports).

    `SHOUWANG_DATA_DIR` in `environ` (default `os.environ`), a relative path taken from the
    working directory; unset or blank means `<root>/.data`.
    """
    env = os.environ if environ is None else environ
    explicit = env.get(DATA_DIR_ENV, "").strip()
    if explicit:
        return Path(explicit).expanduser().resolve()
    return root / ".data"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def env_port(environ: Mapping[str, str], name: str, default: int) -> int:
    """The port in variable `name` of `environ`; unset or blank means `default`.

    Anything else that is not a port number (1-65535) is a `DevstackError` naming the variable.
    """
    text = environ.get(name, "").strip()
    if not text:
        return default
    try:
        port = int(text)
    except ValueError:
        raise DevstackError(f"{name}={text!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise DevstackError(f"{name}={port} is not a port number (1-65535)")
    return port


def port_busy(port: int, host: str = "127.0.0.1") -> bool:
    """True when something already accepts connections on host:port, or the port cannot be bound."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.3)
        if sock.connect_ex((host, port)) == 0:
            return True
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def require_free_port(port: int, what: str, env_hint: str, host: str = "127.0.0.1") -> None:
    """Fail with a clear message when `port` is taken."""
    if port_busy(port, host):
        raise DevstackError(
            f"port {port} busy on {host}: cannot start {what} there. Stop whatever listens "
            f"(`make down` stops a leftover devstack; `ss -ltnp 'sport = :{port}'` shows the owner) "
            f"or point {env_hint} at the server that is already running."
        )


def tail(path: Path, lines: int = 40, since: int = 0) -> str:
    """The last `lines` lines of a log file (from byte offset `since`), for error messages."""
    try:
        with path.open("rb") as handle:
            handle.seek(since)
            data = handle.read()
    except FileNotFoundError:
        return f"(no log at {path})"
    text = data.decode("utf-8", errors="replace").splitlines()[-lines:]
    return "\n".join(text) if text else f"(log {path} is empty)"


def file_size(path: Path) -> int:
    """Size of a file in bytes, 0 when it does not exist."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def spawn(
    argv: Sequence[str],
    *,
    log_path: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    user: int | None = None,
    group: int | None = None,
    die_with_parent: bool = False,
) -> subprocess.Popen[bytes]:
    """Start a process in its own session with stdout and stderr appended to `log_path`.

    Its own session keeps a terminal's Ctrl-C away from it, so the devstack decides the order
    of shutdown. `die_with_parent` asks Linux to kill it if this process dies (tests: no
    leftover brokers after a crashed pytest); it only applies when called on the main thread,
    because the kernel ties it to the thread that forked.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    preexec = (
        _die_with_parent
        if die_with_parent and threading.current_thread() is threading.main_thread()
        else None
    )
    with log_path.open("ab") as log:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            user=user,
            group=group,
            start_new_session=True,
            preexec_fn=preexec,
        )


def terminate(
    proc: subprocess.Popen[bytes] | None,
    pid: int | None = None,
    *,
    sig: int = signal.SIGTERM,
    timeout: float = 30.0,
) -> int | None:
    """Send `sig`, wait up to `timeout` seconds, then SIGKILL. Returns the exit code if known."""
    if proc is not None:
        if proc.poll() is not None:
            return proc.returncode
        try:
            proc.send_signal(sig)
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait(10)
        except ProcessLookupError:
            return proc.poll()
    if pid is not None:
        try:
            process = psutil.Process(pid)
            process.send_signal(sig)
            if not _gone(process, timeout):
                process.kill()
                _gone(process, 10)
        except psutil.NoSuchProcess:
            return None
    return None


def _gone(process: psutil.Process, timeout: float) -> bool:
    """Whether `process` (not necessarily our child) ended within `timeout`. One that exited but
    whose parent has not reaped it yet (a zombie) has ended: `psutil.Process.wait` would wait
    for the reaping and time out, which made `make down` crash and leave services running."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def kill_now(proc: subprocess.Popen[bytes] | None) -> None:
    """SIGKILL without any grace: what `kill -9` does, for fault tests."""
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait(10)


def write_pid(path: Path, pid: int, cmd_marker: str) -> None:
    """Record a pid plus a marker found in its command line, so `down` never kills a stranger."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{pid}\n{cmd_marker}\n", encoding="utf-8")


def read_live_pid(path: Path) -> int | None:
    """The pid in a pid file if that process still runs and its command line has the marker."""
    try:
        pid_text, marker = path.read_text(encoding="utf-8").splitlines()[:2]
        pid = int(pid_text)
        cmdline = " ".join(psutil.Process(pid).cmdline())
    except (FileNotFoundError, ValueError, psutil.Error):
        return None
    return pid if marker in cmdline else None


def stop_from_pid_file(path: Path, *, sig: int = signal.SIGTERM, timeout: float = 30.0) -> bool:
    """Stop the process a pid file names (if it is still ours); remove the file. True if stopped."""
    pid = read_live_pid(path)
    if pid is not None:
        terminate(None, pid, sig=sig, timeout=timeout)
    path.unlink(missing_ok=True)
    return pid is not None


def wait_until(predicate: Callable[[], object], timeout: float, interval: float = 0.2) -> bool:
    """Poll a zero-argument callable until it returns truthy or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
