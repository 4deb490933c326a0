"""The Quick start's `make up`: the real `shouwang-dev up` starts its own Kafka and PostgreSQL,
migrates, runs intake, triage and casework in the foreground, takes a report and shows its
receipt, and on Ctrl-C stops everything and frees every port it used.

It runs as a subprocess on free ports and a data dir of its own, with the session's
KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL removed: `up` must start its servers, as on a fresh
machine, and must not disturb a developer's `make up` (or the session's servers).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

import httpx
import psutil
import pytest
from shouwang_contracts.auth import mint_token
from shouwang_contracts.vocabulary import Role
from shouwang_devstack._proc import DATA_DIR_ENV, free_port, port_busy, repo_root
from shouwang_devstack.localenv import read_env_file
from shouwang_devstack.services import REGISTRY

pytestmark = pytest.mark.integration

READY = "[devstack] up; Ctrl-C stops everything"
START_WITHIN = 150.0
STOP_WITHIN = 60.0
PORT_VARIABLES = (
    "SHOUWANG_KAFKA_PORT",
    "SHOUWANG_KAFKA_CONTROLLER_PORT",
    "SHOUWANG_POSTGRES_PORT",
    "INTAKE_PORT",
    "TRIAGE_PORT",
    "CASEWORK_PORT",
    "GATEWAY_PORT",
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


def _shouwang_dev(command: str) -> list[str]:
    """The console script `make up` runs (`uv run shouwang-dev`), else the module."""
    script = Path(sys.executable).parent / "shouwang-dev"
    if script.is_file():
        return [str(script), command]
    return [sys.executable, "-m", "shouwang_devstack.cli", command]


def _distinct_free_ports(names: Iterable[str]) -> dict[str, int]:
    """A free port per name, no two alike: the OS may hand out a port again once the probe
    that found it has closed, and `up` refuses two things on one port."""
    chosen: dict[str, int] = {}
    for name in names:
        port = free_port()
        while port in chosen.values():
            port = free_port()
        chosen[name] = port
    return chosen


def _inherited(name: str) -> bool:
    """Whether `up` may see a variable of this session: not the servers it must start itself,
    nor secrets or service settings that would beat what it generates (it lets exported ones
    win), so the token minted from its local.env is the one its services check."""
    if name in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL"):
        return False
    if name.startswith("SHOUWANG_"):
        return name == "SHOUWANG_REPO_ROOT"
    return not name.startswith(tuple(info.env_prefix for info in REGISTRY.values()))


def _up_env(data: Path, ports: dict[str, int]) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if _inherited(name)}
    env[DATA_DIR_ENV] = str(data)
    env.update({name: str(port) for name, port in ports.items()})
    return env


def _alive(processes: Iterable[psutil.Process]) -> list[psutil.Process]:
    alive = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process)
        except psutil.NoSuchProcess:
            continue
    return alive


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _clean_up(up: subprocess.Popen[str], seen: list[psutil.Process], env: dict[str, str]) -> None:
    """Leave nothing running, whatever failed: Ctrl-C, then SIGKILL, then `down` and SIGKILL
    for whatever `up` started (its servers and services run in sessions of their own, outside
    its process group). After a clean stop there is nothing left to do."""
    seen = seen + _descendants(up.pid)
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
        _shouwang_dev("down"),
        cwd=repo_root(),
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    for process in _alive(seen):
        process.kill()


def _report_and_read_the_receipt(data: Path, intake_port: int) -> None:
    """README's "Try it": a dorm-room leader reports a student and reads the receipt back."""
    secret = read_env_file(data / "local.env")["SHOUWANG_JWT_SECRET"]
    token = mint_token(secret, sub="2024020002", role=Role.DORM_LEADER, campus_id="demo")
    observed_at = datetime.now(UTC) - timedelta(minutes=10)
    with httpx.Client(
        base_url=f"http://127.0.0.1:{intake_port}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    ) as intake:
        accepted = intake.post(
            "/v1/reports",
            headers={"Idempotency-Key": str(uuid.uuid4())},
            json={
                "campus_id": "demo",
                "student_no": "2024020001",
                "signals": ["persistent_low_mood"],
                "observed_at": observed_at.isoformat(),
            },
        )
        assert accepted.status_code == 202, accepted.text
        report_id = accepted.json()["report_id"]
        assert accepted.headers["Location"] == f"/v1/reports/{report_id}"

        receipt = intake.get(accepted.headers["Location"])
        assert receipt.status_code == 200, receipt.text
        assert receipt.json()["id"] == report_id
        assert receipt.json()["status_label"] in ("已收到，等待处理", "正在处理", "已处理完毕")


def _launch_up(env: dict[str, str]) -> tuple[subprocess.Popen[str], Output]:
    up = subprocess.Popen(
        _shouwang_dev("up"),
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


def _start_up(
    data: Path, attempts: int = 3
) -> tuple[subprocess.Popen[str], Output, dict[str, int], dict[str, str]]:
    """`up` on free ports, waited for until it says it is up.

    A port found free can be taken before `up` binds it (any process's outgoing connection
    may get it); `up` then stops, saying which port is busy, and is started again on other
    ports. Any other failure fails the test with `up`'s output.
    """
    for attempt in range(1, attempts + 1):
        ports = _distinct_free_ports(PORT_VARIABLES)
        env = _up_env(data, ports)
        up, output = _launch_up(env)
        if output.wait_for(READY, START_WITHIN):
            return up, output, ports, env
        _clean_up(up, [], env)
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


def test_make_up_takes_a_report_and_ctrl_c_stops_everything() -> None:
    # Not under pytest's temp root, like the fixtures' PostgreSQL: as root, the server runs as an
    # unprivileged user that must reach its files, and a new pytest session chmods that root 0700.
    data = Path(tempfile.mkdtemp(prefix="shouwang-test-up-"))
    up, output, ports, env = _start_up(data)
    assert up.stdout is not None
    started: list[psutil.Process] = []
    try:
        started = _descendants(up.pid)

        _report_and_read_the_receipt(data, ports["INTAKE_PORT"])
        for name in ("TRIAGE_PORT", "CASEWORK_PORT"):
            assert httpx.get(f"http://127.0.0.1:{ports[name]}/healthz").status_code == 200

        up.send_signal(signal.SIGINT)  # what Ctrl-C in the terminal sends
        try:
            code = up.wait(STOP_WITHIN)
        except subprocess.TimeoutExpired:
            pytest.fail(f"`up` still running {STOP_WITHIN:.0f}s after SIGINT:\n{output.text()}")
        output.finish()
        assert code == 0, output.text()
        assert "[devstack] stopped" in output.lines, output.text()
        assert [name for name, port in ports.items() if port_busy(port)] == [], output.text()
        assert _alive(started) == [], output.text()
    finally:
        _clean_up(up, started, env)
        up.stdout.close()
        shutil.rmtree(data, ignore_errors=True)
