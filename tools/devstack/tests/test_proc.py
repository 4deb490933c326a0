"""Stopping processes that are not our children, as `make down` does from pid files."""

from __future__ import annotations

import subprocess
import time

import psutil
from shouwang_devstack._proc import terminate


def test_down_does_not_crash_on_a_stopped_process_its_parent_has_not_reaped() -> None:
    """A service `make up` started is the child of `shouwang-dev up`, not of `make down`; once
    stopped it stays a zombie until its parent reaps it. Before, `down` waited for it to
    vanish, timed out, killed it, timed out again and crashed with psutil's TimeoutExpired,
    leaving the services after it running."""
    # The parent execs into a sleep that never reaps the child it started.
    parent = subprocess.Popen(
        ["sh", "-c", "sleep 60 & echo $!; exec sleep 120"], stdout=subprocess.PIPE
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        # Until sh has exec'd into the sleep, sh itself may reap the stopped child (it did,
        # once, in CI): then there is no zombie to look at.
        deadline = time.monotonic() + 30
        while psutil.Process(parent.pid).cmdline()[:1] != ["sleep"]:
            assert time.monotonic() < deadline, "sh never exec'd into the sleep"
            time.sleep(0.01)
        started = time.monotonic()
        terminate(None, child, timeout=2)  # must not raise
        assert time.monotonic() - started < 2
        assert psutil.Process(child).status() == psutil.STATUS_ZOMBIE
    finally:
        parent.kill()
        parent.wait(10)
