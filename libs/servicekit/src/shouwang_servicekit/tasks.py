"""Background work of a service: periodic chores and long-running loops, stopped cleanly.

    tasks = BackgroundTasks()
    tasks.every(60.0, remind_missed_follow_ups, name="follow-up-reminders")
    tasks.start(relay.run(), name="outbox-relay")
    ...
    await tasks.close()   # cancels them all and waits until each has stopped

A periodic chore runs at once, then every `interval` seconds give or take `jitter` (a share
of the interval), so replicas started together do not all query at the same instant. A chore
that returns True has more to do and runs again at once (a backlog drains without waiting).
A failure is logged and the chore tries again at its next turn; cancellation stops it
wherever it is.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

logger = logging.getLogger("shouwang.tasks")

#: A chore: does one round of work; True when it should run again at once.
Chore = Callable[[], Awaitable[bool | None]]


def jittered(interval: float, jitter: float) -> float:
    """`interval`, moved at random by up to `jitter` of itself either way."""
    if jitter <= 0:
        return interval
    return interval * random.uniform(1 - jitter, 1 + jitter)  # noqa: S311 - timing, not a secret


async def periodically(chore: Chore, interval: float, *, name: str, jitter: float = 0.1) -> None:
    """Run `chore` until cancelled: at once, then every `interval` (± `jitter`) seconds, or
    again at once while it returns True. A failure is logged and waits for the next turn."""
    while True:
        try:
            more = await chore()
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("%s failed; next try in %.1f s", name, interval)
            more = False
        if not more:
            await asyncio.sleep(jittered(interval, jitter))


class BackgroundTasks:
    """The tasks a service runs beside its requests and consumers; `close()` ends them."""

    def __init__(self) -> None:
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, work: Coroutine[Any, Any, None], *, name: str) -> asyncio.Task[None]:
        """Run `work` (a loop that ends only when cancelled) as a task named `name`."""
        task = asyncio.create_task(work, name=name)
        self._tasks.append(task)
        return task

    def every(
        self, interval: float, chore: Chore, *, name: str, jitter: float = 0.1
    ) -> asyncio.Task[None]:
        """Run `chore` periodically (see `periodically`) as a task named `name`."""
        return self.start(periodically(chore, interval, name=name, jitter=jitter), name=name)

    @property
    def names(self) -> list[str]:
        return [task.get_name() for task in self._tasks]

    async def close(self) -> None:
        """Cancel every task and wait until each has stopped (a task that failed on its own
        is logged, never raised: shutdown goes on)."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
            except Exception:
                logger.exception("background task %s had failed", task.get_name())
