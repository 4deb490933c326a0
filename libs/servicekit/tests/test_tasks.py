"""Periodic chores: at once, then every interval with jitter, again at once while there is
more, on through failures; and `BackgroundTasks.close()` stops them wherever they are."""

from __future__ import annotations

import asyncio
import logging

import pytest
from shouwang_servicekit import tasks as tasks_module
from shouwang_servicekit.tasks import BackgroundTasks, jittered, periodically


async def test_a_chore_runs_at_once_then_again_at_once_while_it_has_more(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waits: list[float] = []
    rounds: list[int] = []
    more = [True, True, False, False]

    async def wait(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 2:
            raise asyncio.CancelledError  # stop the loop after its second wait

    async def chore() -> bool:
        rounds.append(len(waits))
        return more[len(rounds) - 1]

    monkeypatch.setattr(tasks_module.asyncio, "sleep", wait)
    with pytest.raises(asyncio.CancelledError):
        await periodically(chore, 10.0, name="t", jitter=0.0)
    # Three rounds before the first wait (True, True, False), one more after it.
    assert rounds == [0, 0, 0, 1]
    assert waits == [10.0, 10.0]


async def test_a_failing_chore_is_logged_and_tried_again_at_its_next_turn(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    waits: list[float] = []
    rounds = 0

    async def wait(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 3:
            raise asyncio.CancelledError

    async def chore() -> bool:
        nonlocal rounds
        rounds += 1
        if rounds < 3:
            raise ConnectionError("the database is away")
        return False

    monkeypatch.setattr(tasks_module.asyncio, "sleep", wait)
    with caplog.at_level(logging.ERROR, "shouwang.tasks"), pytest.raises(asyncio.CancelledError):
        await periodically(chore, 5.0, name="reminders", jitter=0.0)
    assert rounds == 3
    assert waits == [5.0, 5.0, 5.0]
    assert [r.getMessage() for r in caplog.records] == ["reminders failed; next try in 5.0 s"] * 2


def test_jitter_moves_the_interval_by_at_most_its_share() -> None:
    seen = [jittered(10.0, 0.1) for _ in range(2000)]
    assert all(9.0 <= s <= 11.0 for s in seen)
    assert max(seen) - min(seen) > 1.0  # it does move
    assert jittered(10.0, 0.0) == 10.0


async def test_closing_stops_tasks_while_they_wait_and_while_they_work() -> None:
    working = asyncio.Event()
    stopped: list[str] = []

    async def waiting() -> bool:
        return False

    async def busy() -> bool:
        working.set()
        try:
            await asyncio.sleep(3600)  # a long round of work
        finally:
            stopped.append("busy")
        return False

    async def loop() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            stopped.append("loop")

    background = BackgroundTasks()
    background.every(3600.0, waiting, name="waiting")
    background.every(3600.0, busy, name="busy")
    background.start(loop(), name="loop")
    assert background.names == ["waiting", "busy", "loop"]
    await asyncio.wait_for(working.wait(), 10)

    await asyncio.wait_for(background.close(), 10)
    assert sorted(stopped) == ["busy", "loop"]
    assert background.names == []


async def test_a_task_that_failed_on_its_own_does_not_stop_the_shutdown(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken() -> None:
        raise RuntimeError("gave up")

    background = BackgroundTasks()
    background.start(broken(), name="broken")
    await asyncio.sleep(0)
    with caplog.at_level(logging.ERROR, "shouwang.tasks"):
        await background.close()
    assert "background task broken had failed" in caplog.text
