"""Slowing down password guessing: how many failed sign-ins a key may have in a window.

Two keys are counted for every failure: the account tried (campus + username, whether or not
it exists, so probing names is slowed the same) and the client's address. Once either key has
its limit of failures inside the window, sign-in is refused until the oldest of them leaves
the window, even with the right password: a guesser learns nothing from a refused attempt.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


def account_key(campus_id: str, username: str) -> str:
    return f"account:{campus_id}:{username.lower()}"


def address_key(address: str) -> str:
    return f"address:{address}"


@dataclass(frozen=True, slots=True)
class Limit:
    """At most `failures` within `window` for one key."""

    failures: int
    window: timedelta

    def retry_after(self, failures_at: Sequence[datetime], now: datetime) -> int | None:
        """Seconds until another attempt is allowed, or None if one is allowed now.

        `failures_at`: this key's failures, any order; those outside the window do not count.
        """
        recent = sorted(t for t in failures_at if now - t < self.window)
        if len(recent) < self.failures:
            return None
        # The attempt is allowed again once enough failures have aged out of the window.
        frees_at = recent[len(recent) - self.failures] + self.window
        return max(1, math.ceil((frees_at - now).total_seconds()))
