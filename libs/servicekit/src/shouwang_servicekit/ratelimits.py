"""Rate limits: so many requests per key (a reporter, an IP address) in a period, then 429.

`RateLimiter` is the generic cell rate algorithm (GCRA, a token bucket kept as one number per
key): `rate` requests per `per` seconds on average, `burst` of them back to back. It answers
how long the caller must wait, which becomes the 429's `Retry-After` (`too_many_requests`).

The state is per process: each replica limits on its own, so a campus behind N replicas
allows up to N times the rate. That is enough for what it is for (one reporter submitting
hundreds of reports in a loop, one address hammering the unauthenticated paths), and needs
no shared store on the hot path. pyrate-limiter was weighed: it keeps a bucket object and a
leak thread per limiter, where one float per key does.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

from .problems import Problem

#: Keys remembered at most; the key idle longest is forgotten first (it would be allowed
#: again by then in any realistic configuration).
DEFAULT_MAX_KEYS = 100_000


class RateLimiter:
    """At most `rate` requests per `per` seconds per key, `burst` of them at once."""

    def __init__(
        self,
        rate: int,
        per: float,
        *,
        burst: int | None = None,
        max_keys: int = DEFAULT_MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate < 1 or per <= 0:
            raise ValueError("a rate limit needs rate >= 1 and per > 0")
        self.rate = rate
        self.per = per
        self._interval = per / rate
        self._tolerance = self._interval * (max(1, burst if burst is not None else rate) - 1)
        self._max_keys = max_keys
        self._clock = clock
        # key -> theoretical arrival time of its next request (GCRA's one number per key)
        self._due: OrderedDict[str, float] = OrderedDict()

    def acquire(self, key: str) -> float:
        """Count one request of `key`: 0.0 when it is allowed, else the seconds to wait
        (and the request is not counted)."""
        now = self._clock()
        due = max(self._due.get(key, now), now)
        allowed_from = due - self._tolerance
        if now < allowed_from:
            return allowed_from - now
        self._due[key] = due + self._interval
        self._due.move_to_end(key)
        if len(self._due) > self._max_keys:
            self._due.popitem(last=False)
        return 0.0


def too_many_requests(wait_seconds: float, what: tuple[str, str]) -> Problem:
    """429 `rate_limited` with `Retry-After` (whole seconds, at least 1); `what` says what
    was limited (zh-CN, English), e.g. ("上报", "reports")."""
    retry_after = max(1, math.ceil(wait_seconds))
    what_zh, what_en = what
    return Problem(
        429,
        "rate_limited",
        f"{what_zh}过于频繁，请在 {retry_after} 秒后重试",
        detail_en=f"Too many {what_en}; retry in {retry_after} s",
        headers={"Retry-After": str(retry_after)},
    )
