"""Per-channel rate limits where urgent messages go first.

Gateways and robots throttle (a WeCom or DingTalk robot takes about 20 messages a minute), so
each channel has a leaky bucket (aiolimiter). Its waiters are served in arrival order, so a
critical message arriving behind a queue of routine ones would wait for all of them. Here
routine messages queue for the bucket one at a time, behind a lock, while urgent ones go to
the bucket directly: an urgent message waits behind at most one routine message.
"""

from __future__ import annotations

import asyncio
import math

from aiolimiter import AsyncLimiter


class ChannelRate:
    """One channel's rate limit: `rate` messages a second (a second's worth may go at once;
    below one a second, one message per period)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._bucket = (
            AsyncLimiter(rate, 1.0) if rate >= 1 else AsyncLimiter(1, 1 / max(rate, 0.001))
        )
        self._routine = asyncio.Lock()

    async def wait(self, *, urgent: bool = False) -> None:
        """Until this channel may send one more message."""
        if urgent:
            await self._bucket.acquire()
            return
        async with self._routine:
            await self._bucket.acquire()

    def in_flight_cap(self, seconds: float, ceiling: int) -> int:
        """How many of this channel's messages a lane should hold at once: about `seconds`
        worth at this rate, at least one, at most `ceiling`. A claimed message then waits
        for its turn seconds, not minutes (its lease keeps running meanwhile)."""
        return max(1, min(ceiling, math.ceil(self.rate * seconds)))
