"""A test session's servers are discarded at its end, not shut down gracefully: their data is
thrown away, so nothing a graceful stop saves is worth waiting for."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from shouwang_devstack._proc import free_port, port_busy
from shouwang_devstack.lifecycle import ManagedProcess
from shouwang_devstack.postgres import LocalPostgres

# Ignores SIGTERM, says so, then sleeps: only SIGKILL ends it.
DEAF = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('ignoring SIGTERM', flush=True)\n"
    "time.sleep(600)\n"
)


@dataclass
class DeafProcess(ManagedProcess):
    """A process that never stops on SIGTERM (a stuck server)."""

    DISCARD_WITHIN = 0.5

    log_path: Path
    pid_path: Path | None = None
    die_with_parent: bool = True
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False)
    _log_offset: int = field(default=0, init=False)

    @property
    def what(self) -> str:
        return "deaf"

    def command(self) -> list[str]:
        return [sys.executable, "-c", DEAF]

    def ready(self) -> bool:
        return "ignoring SIGTERM" in self.log_text()


def test_a_server_that_ignores_sigterm_is_killed_when_discarded(tmp_path: Path) -> None:
    deaf = DeafProcess(tmp_path / "stuck.log").start()
    code = deaf.discard()
    assert code == -signal.SIGKILL, deaf.log_text()
    assert not deaf.is_running()


@pytest.mark.integration
def test_a_discarded_postgres_shuts_down_immediately_without_a_checkpoint() -> None:
    # Outside pytest's temp root, as the session's server is (see `pytest_servers`).
    data_dir = Path(tempfile.mkdtemp(prefix="shouwang-test-pg-"))
    server = LocalPostgres(data_dir, port=free_port(), fast=True, die_with_parent=True)
    # Its own answer to SIGQUIT is what this test is about, not the bound after which
    # SIGKILL follows: a loaded machine must not turn one into the other.
    server.DISCARD_WITHIN = 120.0
    try:
        server.start()
        server.discard()
        log = server.log_text()
        assert "received immediate shutdown request" in log, log
        assert "shutting down" not in log, log  # the shutdown checkpoint's line
        assert not server.is_running()
        assert not port_busy(server.port)
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
