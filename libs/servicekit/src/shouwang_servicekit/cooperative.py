"""Cooperative time slices for bulk work that shares an event loop with urgent work.

A census row costs about a millisecond to parse or grade, so yielding every N rows holds the
loop for N ms, and every step of a tier report arriving meanwhile (its request, its Kafka
acknowledgement, its database round trips) waits that long. Yielding by the clock bounds the
wait however costly a row is on the machine at hand.
"""

from __future__ import annotations

import time

# How long bulk work may hold the event loop between two yields.
SLICE_SECONDS = 0.002


class TimeSlice:
    """`over()` says when bulk work has held the loop for a slice; `renew()` after yielding.

    held = TimeSlice()
    for row in rows:
        ...
        if held.over():
            await asyncio.sleep(0)
            held.renew()
    """

    __slots__ = ("_ends", "_seconds")

    def __init__(self, seconds: float = SLICE_SECONDS) -> None:
        self._seconds = seconds
        self._ends = time.perf_counter() + seconds

    def over(self) -> bool:
        return time.perf_counter() >= self._ends

    def renew(self) -> None:
        self._ends = time.perf_counter() + self._seconds
