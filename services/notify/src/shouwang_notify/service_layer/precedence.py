"""Critical work first: while a critical alert is being landed, planned or sent, routine
work steps aside.

Notify plans and sends in one process, one event loop: every routine step in flight (a
batch being planned, a message being sent) delays each step of a critical alert's way from
Kafka to a channel. A critical alert landing, or being planned, holds precedence for a
moment (at most `seconds`, renewed while critical alerts keep coming); meanwhile the bulk
planner waits and the bulk sending lane claims only critical messages. It ends as soon as
the urgent planners find no critical alert waiting (the sending lane then holds back only
while a critical message is in flight), or when the moment passes, so a critical alert that
cannot be planned never stalls the rest for long. While the alerts consumer catches up on a
burst (its batches come full), routine planning also waits, a moment at a time: the records
not yet read may hold a critical alert, and the consumer reads them sooner with the event
loop to itself. Routine planning is held back at most `PRECEDENCE_SECONDS` at a time, so a
steady stream of critical alerts slows it, never stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

# How long one critical alert holds routine work back, at most.
PRECEDENCE_SECONDS = 2.0
# How long a full batch off Kafka holds routine planning back, at most.
INTAKE_SECONDS = 0.5


class Precedence:
    """Whether critical work is under way, or may be: the alerts consumer is catching up on
    a burst, and a critical alert may be among the records not yet read."""

    def __init__(self, seconds: float = PRECEDENCE_SECONDS) -> None:
        self.seconds = seconds
        self._until = 0.0
        self._intake_until = 0.0
        self._released = asyncio.Event()

    def hold(self) -> None:
        """Critical work began (or goes on): routine work steps aside for a moment."""
        self._until = time.monotonic() + self.seconds

    def release(self) -> None:
        """No critical work is waiting any more."""
        self._until = 0.0
        self._released.set()

    def catching_up(self, seconds: float = INTAKE_SECONDS) -> None:
        """The alerts consumer took a full batch: more is queued on Kafka, perhaps a
        critical alert; routine planning waits a moment (until the consumer takes a batch
        that is not full, or the moment passes)."""
        self._intake_until = time.monotonic() + seconds

    def caught_up(self) -> None:
        self._intake_until = 0.0
        self._released.set()

    @property
    def held(self) -> bool:
        """Critical alerts are being landed, planned or claimed."""
        return time.monotonic() < self._until

    async def yield_to_critical(self) -> None:
        """Wait while critical work is under way or the consumer is catching up, at most
        `seconds` (routine work is held back, never stopped)."""
        ends = time.monotonic() + self.seconds
        while (now := time.monotonic()) < ends:
            until = max(self._until, self._intake_until)
            if now >= until:
                return
            self._released.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._released.wait(), min(until, ends) - now)
