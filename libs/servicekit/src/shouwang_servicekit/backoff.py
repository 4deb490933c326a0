"""How long to wait before trying again: doubling per consecutive failure, up to a cap."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Pauses of `first` seconds, doubling per consecutive failure, at most `longest`;
    `reset()` after a success starts again from `first`. Retrying at once would spin on a
    dependency that is away; waiting long after it came back would delay the work."""

    first: float = 0.5
    longest: float = 30.0
    failures: int = field(default=0, init=False)

    def next_pause(self) -> float:
        """Count one more failure and say how long to wait before the next try."""
        self.failures += 1
        return min(self.first * 2.0 ** (self.failures - 1), self.longest)

    async def wait(self) -> float:
        """Count one more failure and wait the pause it earns; returns the pause."""
        pause = self.next_pause()
        await asyncio.sleep(pause)
        return pause

    def reset(self) -> None:
        self.failures = 0
