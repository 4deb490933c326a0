"""What the session's end costs, fixture by fixture, in the terminal summary.

pytest counts the whole session's teardown (servers, the session's event loop, everything
session-scoped) as the teardown of the run's last test, so `--durations` shows one figure
and no reason. This plugin times each session-scoped fixture's teardown during that last
teardown and names the slow ones in the summary, slowest first, so the next slow end of a
run says which step it was.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

#: Session fixtures that finished faster than this are left out of the summary.
WORTH_NAMING = 0.1


class SessionTeardownTimes:
    """Seconds each session-scoped fixture took to finish during the last test's teardown.

    pytest calls `pytest_fixture_post_finalizer` as each fixture's last finalizer, so the
    time since the previous one (or since the last teardown began) is that fixture's.
    """

    def __init__(self) -> None:
        self.finished: list[tuple[str, float]] = []
        self.total: float | None = None
        self._mark: float | None = None

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, nextitem: pytest.Item | None) -> Iterator[None]:
        if nextitem is not None:
            return (yield)
        started = self._mark = time.monotonic()
        try:
            return (yield)
        finally:
            self.total = time.monotonic() - started
            self._mark = None

    def pytest_fixture_post_finalizer(self, fixturedef: pytest.FixtureDef[Any]) -> None:
        if self._mark is None:
            return
        now = time.monotonic()
        if fixturedef.scope == "session":
            self.finished.append((fixturedef.argname, now - self._mark))
        self._mark = now

    def summary(self) -> str | None:
        """`session teardown 1.2s: _kafka_endpoint 0.7s, …`, or None before the end."""
        if self.total is None:
            return None
        slow = sorted((s, name) for name, s in self.finished if s >= WORTH_NAMING)
        named = ", ".join(f"{name} {seconds:.1f}s" for seconds, name in reversed(slow))
        return f"session teardown {self.total:.1f}s: {named or 'no fixture slow'}"


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(SessionTeardownTimes(), "shouwang-session-teardown")


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    times = config.pluginmanager.get_plugin("shouwang-session-teardown")
    line = times.summary() if isinstance(times, SessionTeardownTimes) else None
    if line is not None:
        terminalreporter.write_sep("-", line)
