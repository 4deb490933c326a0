"""Critical work first: while a critical alert is being landed, planned or sent, routine
work steps aside.

Notify plans and sends in one process, one event loop: every routine step in flight (a
batch being planned, a message being sent) delays each step of a critical alert's way from
Kafka to a channel. A critical alert landing, or being planned, holds precedence for a
moment (at most `seconds`, renewed while critical alerts keep coming); meanwhile the bulk
planner waits and the bulk sending lane claims only critical messages. It ends as soon as
the urgent planners find no critical alert waiting (the sending lane then holds back only
while a critical message is in flight), or when the moment passes, so a critical alert that
cannot be planned never stalls the rest for long.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

# How long one critical alert holds routine work back, at most.
PRECEDENCE_SECONDS = 2.0


class Precedence:
    """Whether critical work is under way."""

    def __init__(self, seconds: float = PRECEDENCE_SECONDS) -> None:
        self.seconds = seconds
        self._until = 0.0
        self._released = asyncio.Event()

    def hold(self) -> None:
        """Critical work began (or goes on): routine work steps aside for a moment."""
        self._until = time.monotonic() + self.seconds
        self._released.clear()

    def release(self) -> None:
        """No critical work is waiting any more."""
        self._until = 0.0
        self._released.set()

    @property
    def held(self) -> bool:
        return time.monotonic() < self._until

    async def yield_to_critical(self) -> None:
        """Wait while critical work is under way."""
        while (left := self._until - time.monotonic()) > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._released.wait(), left)
