"""The life of a process the devstack runs: launch, wait until ready, stop, kill.

`LocalKafka`, `LocalPostgres` and `ServiceProcess` are each one of these: they say what they
are, how to start and how to tell they are ready; `ManagedProcess` does the rest the same way
for all three (waits that fail with the log's tail, a grace period before SIGKILL, the pid
file `make down` reads).
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Self

from ._proc import (
    DevstackError,
    file_size,
    kill_now,
    read_live_pid,
    spawn,
    tail,
    terminate,
    write_pid,
)


class ManagedProcess:
    """A process in its own session, its output appended to `log_path`.

    A subclass (a dataclass holding `_proc` and `_log_offset`) gives `what`, `log_path`,
    `pid_path`, `command()` and `ready()`, and may prepare in `before_launch()` and add
    `spawn_options()`.
    """

    #: Sent by `stop()`; SIGKILL follows after the grace period.
    STOP_SIGNAL: int = signal.SIGTERM
    #: Sent by `discard()`, for a process whose data is thrown away next; SIGKILL follows
    #: after `DISCARD_WITHIN` seconds.
    DISCARD_SIGNAL: int = signal.SIGTERM
    DISCARD_WITHIN: float = 5.0
    #: Seconds `start()` waits for readiness and `stop()` for an exit, unless told otherwise.
    READY_WITHIN: float = 60.0
    STOP_WITHIN: float = 30.0
    #: `pid_marker`, unless a subclass says otherwise.
    PID_MARKER: str = ""

    log_path: Path
    #: Where `launch()` records the pid for `make down`; None records nothing.
    pid_path: Path | None
    die_with_parent: bool
    _proc: subprocess.Popen[bytes] | None
    _log_offset: int

    # What a subclass says --------------------------------------------------------------------
    @property
    def what(self) -> str:
        """What runs, as messages name it (`Kafka`, `PostgreSQL`, `intake`)."""
        raise NotImplementedError

    def command(self) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        """True once the process serves (called while it runs, until it says so)."""
        raise NotImplementedError

    def not_ready(self) -> str:
        """What it failed to do in time, e.g. `did not answer 200 on …/readyz`."""
        return "was not ready"

    def before_launch(self) -> None:
        """Checks and preparation before each launch (ports, a data dir, a leftover process)."""

    @property
    def pid_marker(self) -> str:
        """A string of the command line that `make down` checks before it kills a pid from
        the pid file (a recycled pid is somebody else's)."""
        return self.PID_MARKER

    def spawn_options(self) -> dict[str, Any]:
        """More arguments for `_proc.spawn` (cwd, env, user, group)."""
        return {}

    def refuse_leftover(self, where: Path) -> None:
        """For `before_launch`: fail when the pid file names a live process of ours, one a
        crashed run left behind on the same data."""
        leftover = None if self.pid_path is None else read_live_pid(self.pid_path)
        if leftover is not None:
            raise DevstackError(
                f"a {self.what} server (pid {leftover}) already runs on {where}; "
                "stop it with `make down` (or `uv run shouwang-dev down`)"
            )

    # The same for all ----------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        """Pid while running, else None."""
        if self._proc is not None and self._proc.poll() is None:
            return self._proc.pid
        return None

    def is_running(self) -> bool:
        """True while the process is alive."""
        return self.pid is not None

    def launch(self) -> None:
        """Start the process without waiting for it (see `wait_ready`)."""
        if self.is_running():
            return
        self.before_launch()
        self._log_offset = file_size(self.log_path)
        self._proc = spawn(
            self.command(),
            log_path=self.log_path,
            die_with_parent=self.die_with_parent,
            **self.spawn_options(),
        )
        if self.pid_path is not None:
            write_pid(self.pid_path, self._proc.pid, self.pid_marker)

    def _check_alive(self) -> None:
        if self._proc is None:
            raise DevstackError(f"{self.what} was not started")
        code = self._proc.poll()
        if code is not None:
            raise DevstackError(
                f"{self.what} exited with code {code} before it was ready; "
                f"last lines of {self.log_path}:\n" + tail(self.log_path, 40, self._log_offset)
            )

    def _timeout_error(self, timeout: float) -> DevstackError:
        return DevstackError(
            f"{self.what} {self.not_ready()} within {timeout:.0f}s; "
            f"last lines of {self.log_path}:\n" + tail(self.log_path, 40, self._log_offset)
        )

    def wait_ready(self, timeout: float | None = None) -> None:
        """Block until `ready()` (fail with the log's tail on an exit or the timeout)."""
        timeout = self.READY_WITHIN if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            if self.ready():
                return
            time.sleep(0.2)
        raise self._timeout_error(timeout)

    async def wait_ready_async(self, within: float | None = None) -> None:
        """`wait_ready` without blocking the event loop."""
        within = self.READY_WITHIN if within is None else within
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            self._check_alive()
            if await asyncio.to_thread(self.ready):
                return
            await asyncio.sleep(0.2)
        raise self._timeout_error(within)

    def start(self, timeout: float | None = None) -> Self:
        """Launch and wait until ready."""
        self.launch()
        self.wait_ready(timeout)
        return self

    async def start_async(self, within: float | None = None) -> Self:
        """Launch and wait until ready, without blocking the event loop."""
        self.launch()
        await self.wait_ready_async(within)
        return self

    def stop(self, timeout: float | None = None) -> int | None:
        """`STOP_SIGNAL`, wait up to `timeout`, then SIGKILL. Returns the exit code if known."""
        timeout = self.STOP_WITHIN if timeout is None else timeout
        code = terminate(self._proc, sig=self.STOP_SIGNAL, timeout=timeout)
        if self.pid_path is not None:
            self.pid_path.unlink(missing_ok=True)
        return code

    def discard(self) -> int | None:
        """Stop a process whose data is thrown away right after (a test session's servers):
        `DISCARD_SIGNAL`, at most `DISCARD_WITHIN` seconds, then SIGKILL. Nothing it would
        save on a graceful stop is wanted, so nothing is worth waiting for; `stop()` stays
        graceful for `make down` and for the tests that stop a server and start it again."""
        code = terminate(self._proc, sig=self.DISCARD_SIGNAL, timeout=self.DISCARD_WITHIN)
        if self.pid_path is not None:
            self.pid_path.unlink(missing_ok=True)
        return code

    async def stop_async(self, within: float | None = None) -> int | None:
        """`stop()` in a worker thread."""
        return await asyncio.to_thread(self.stop, within)

    def kill(self) -> None:
        """SIGKILL right away (`kill -9`), for fault tests."""
        kill_now(self._proc)
        if self.pid_path is not None:
            self.pid_path.unlink(missing_ok=True)

    def restart(self, timeout: float | None = None) -> Self:
        """Stop (if running) and start again as before."""
        self.stop()
        return self.start(timeout)

    async def restart_async(self, within: float | None = None) -> Self:
        """`restart()` without blocking the event loop while waiting."""
        await self.stop_async()
        return await self.start_async(within)

    def log_text(self) -> str:
        """Everything the process logged since its last start."""
        return tail(self.log_path, 10_000, self._log_offset)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
