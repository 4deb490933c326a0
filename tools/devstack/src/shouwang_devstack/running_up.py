"""`shouwang-dev up` as a subprocess on free ports and a data dir of its own, for tests.

The session's KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL are removed: `up` must start its own
servers, as on a fresh machine, and must not disturb a developer's `make up` (or the session's
servers). Used by the devstack's own test of `make up` and by the end-to-end scenario.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO

import psutil
import pytest

from ._proc import DATA_DIR_ENV, free_port, repo_root
from .demo import DEMO_LADDER_ENV
from .services import REGISTRY

READY = "[devstack] up; Ctrl-C stops everything"
START_WITHIN = 150.0
STOP_WITHIN = 60.0
PORT_VARIABLES = (
    "SHOUWANG_KAFKA_PORT",
    "SHOUWANG_KAFKA_CONTROLLER_PORT",
    "SHOUWANG_POSTGRES_PORT",
    *(info.port_env for info in REGISTRY.values()),
)


class Output:
    """A process's output, read line by line in a thread, so the test can wait for a line."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self.ended = False
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._reader.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self.ended = True
            self._changed.notify_all()

    def wait_for(self, wanted: str, within: float) -> bool:
        """True once the line `wanted` appeared; False when the output ended or time ran out."""
        deadline = time.monotonic() + within
        with self._changed:
            while wanted not in self.lines:
                left = deadline - time.monotonic()
                if self.ended or left <= 0:
                    return False
                self._changed.wait(left)
            return True

    def text(self) -> str:
        """Everything read so far (for failure messages)."""
        with self._changed:
            return "\n".join(self.lines)

    def finish(self, within: float = 10.0) -> None:
        """Wait until the reader has seen the end of the output."""
        self._reader.join(within)


def shouwang_dev(command: str) -> list[str]:
    """The console script `make up` runs (`uv run shouwang-dev`), else the module."""
    script = Path(sys.executable).parent / "shouwang-dev"
    if script.is_file():
        return [str(script), command]
    return [sys.executable, "-m", "shouwang_devstack.cli", command]


def distinct_free_ports(names: Iterable[str]) -> dict[str, int]:
    """A free port per name, no two alike: the OS may hand out a port again once the probe
    that found it has closed, and `up` refuses two things on one port."""
    chosen: dict[str, int] = {}
    for name in names:
        port = free_port()
        while port in chosen.values():
            port = free_port()
        chosen[name] = port
    return chosen


def inherited(name: str) -> bool:
    """Whether `up` may see a variable of this session: not the servers it must start itself,
    nor secrets or service settings that would beat what it generates (it lets exported ones
    win), so the token minted from its local.env is the one its services check."""
    if name in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL"):
        return False
    if name.startswith("SHOUWANG_"):
        return name in ("SHOUWANG_REPO_ROOT", DEMO_LADDER_ENV)
    return not name.startswith(tuple(info.env_prefix for info in REGISTRY.values()))


def up_env(data: Path, ports: dict[str, int]) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if inherited(name)}
    env[DATA_DIR_ENV] = str(data)
    env.update({name: str(port) for name, port in ports.items()})
    return env


def alive(processes: Iterable[psutil.Process]) -> list[psutil.Process]:
    alive = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process)
        except psutil.NoSuchProcess:
            continue
    return alive


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def clean_up(up: subprocess.Popen[str], seen: list[psutil.Process], env: dict[str, str]) -> None:
    """Leave nothing running, whatever failed: Ctrl-C, then SIGKILL, then `down` and SIGKILL
    for whatever `up` started (its servers and services run in sessions of their own, outside
    its process group). After a clean stop there is nothing left to do."""
    seen = seen + descendants(up.pid)
    if up.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(up.pid, signal.SIGINT)
        try:
            up.wait(STOP_WITHIN)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(up.pid, signal.SIGKILL)
            up.wait(10)
    subprocess.run(
        shouwang_dev("down"),
        cwd=repo_root(),
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    for process in alive(seen):
        process.kill()


def launch_up(env: dict[str, str]) -> tuple[subprocess.Popen[str], Output]:
    up = subprocess.Popen(
        shouwang_dev("up"),
        cwd=repo_root(),
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        errors="replace",
        start_new_session=True,
    )
    assert up.stdout is not None
    return up, Output(up.stdout)


def start_up(
    data: Path, attempts: int = 3
) -> tuple[subprocess.Popen[str], Output, dict[str, int], dict[str, str]]:
    """`up` on free ports, waited for until it says it is up.

    A port found free can be taken before `up` binds it (any process's outgoing connection
    may get it); `up` then stops, saying which port is busy, and is started again on other
    ports. Any other failure fails the test with `up`'s output.
    """
    for attempt in range(1, attempts + 1):
        ports = distinct_free_ports(PORT_VARIABLES)
        env = up_env(data, ports)
        up, output = launch_up(env)
        if output.wait_for(READY, START_WITHIN):
            return up, output, ports, env
        clean_up(up, [], env)
        output.finish()
        assert up.stdout is not None
        up.stdout.close()
        if up.returncode != 0 and " busy" in output.text() and attempt < attempts:
            continue
        shutil.rmtree(data, ignore_errors=True)
        pytest.fail(
            f"`up` not up within {START_WITHIN:.0f}s (exit {up.returncode}):\n{output.text()}"
        )
    raise AssertionError("unreachable")
