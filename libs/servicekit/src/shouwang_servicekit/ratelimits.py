"""Rate limits: so many requests per key (a reporter, an IP address) in a period, then 429.

`RateLimiter` is the generic cell rate algorithm (GCRA, a token bucket kept as one number per
key): `rate` requests per `per` seconds on average, `burst` of them back to back. It answers
how long the caller must wait, which becomes the 429's `Retry-After` (`too_many_requests`).

A `RateLimiter`'s state is per process: each replica limits on its own, so behind N
replicas it allows up to N times the rate. That is enough for reporters and addresses (one
reporter submitting hundreds of reports in a loop, one address hammering the unauthenticated
paths). A signed-in person's limits (`PersonLimits`) also hold across replicas when given a
`shared` counter (`sharedlimits.SharedCounter`, in the service's PostgreSQL): the local
limiter is asked first (a flood costs no statement), the shared counter decides, and when
it does not answer the local decision stands, so a person is never unlimited (at worst N
times the rate while the database is away) and never refused for the store's sake.
pyrate-limiter was weighed: it keeps a bucket object and a leak thread per limiter, where
one float per key does.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .problems import Problem
from .sharedlimits import SharedCounter

#: Keys remembered at most; the key idle longest is forgotten first (it would be allowed
#: again by then in any realistic configuration).
DEFAULT_MAX_KEYS = 100_000
_SLACK_SECONDS = 1e-6


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

    @property
    def interval(self) -> float:
        """Seconds between two requests at the average rate."""
        return self._interval

    @property
    def tolerance(self) -> float:
        """How far ahead of the average a burst may run (interval × (burst - 1))."""
        return self._tolerance

    def refund(self, key: str) -> None:
        """Uncount the last request `acquire` counted for `key` (another limit refused it)."""
        due = self._due.get(key)
        if due is not None:
            self._due[key] = due - self._interval

    def acquire(self, key: str) -> float:
        """Count one request of `key`: 0.0 when it is allowed, else the seconds to wait
        (and the request is not counted)."""
        now = self._clock()
        due = max(self._due.get(key, now), now)
        allowed_from = due - self._tolerance
        # The sum of many intervals drifts by a few ulps (0.1 * 199 is not 19.9): without
        # the slack the last request of a burst could be refused by rounding alone.
        if allowed_from - now > _SLACK_SECONDS:
            return allowed_from - now
        self._due[key] = due + self._interval
        self._due.move_to_end(key)
        if len(self._due) > self._max_keys:
            self._due.popitem(last=False)
        return 0.0


#: A signed-in person's requests to one service, by default: 600 a minute on average (ten a
#: second, more than any person clicking makes) and 200 back to back, so a page that loads
#: thirty things at once, five times over, is never slowed. A script or a stolen token
#: running flat out is held to ten a second.
PERSON_REQUESTS_PER_MINUTE = 600
PERSON_REQUESTS_BURST = 200
#: A signed-in person's reads that write an audit row (the case queue, a case, its history or
#: notes, a student's file or grade, a lookup of names), by default: 2400 an hour and 120 back
#: to back. The web's queue refreshes every 15 s (a list and its name cards: 480 an hour per
#: open tab); two tabs left open all day still leave some 1400 an hour, five case pages a
#: minute sustained beyond the burst (about five reads each, so two dozen pages at once),
#: more than anyone reads. A stolen token reads some 2500 files in its first hour instead
#: of a campus in minutes, and a looped queue listing (an audit row per case listed) writes
#: thousands of rows an hour, not a thousand a second.
AUDITED_READS_PER_HOUR = 2400
AUDITED_READS_BURST = 120


@dataclass(frozen=True, slots=True)
class PersonLimits:
    """What one signed-in person (campus and subject of the token) may ask of a service: any
    `/v1` request (`requests`), and reads that write an audit row (`audited_reads`, the
    routes a service names). None: no limit of that kind. With `shared`, the limits hold
    across the service's replicas (see the module)."""

    requests: RateLimiter | None = None
    audited_reads: RateLimiter | None = None
    shared: SharedCounter | None = None

    async def take(
        self, key: str, limits: Sequence[tuple[str, RateLimiter]]
    ) -> tuple[str, float] | None:
        """Count one request of `key` against each of `limits` (name, limiter), in order:
        None when all allow it, else the first limit that refused and the seconds to wait.
        The local limiters are asked first (a refusal there costs no statement; the limits
        before it keep the request counted, as they always have); then, with `shared`, one
        statement counts it across replicas, and a limit refused there uncounts it here."""
        for name, limiter in limits:
            wait = limiter.acquire(key)
            if wait:
                return name, wait
        if self.shared is None or not limits:
            return None
        refused = await self.shared.take(
            key, [(name, limiter.interval, limiter.tolerance) for name, limiter in limits]
        )
        if not refused:  # counted across replicas, or (None) the store is away: local stands
            return None
        for name, limiter in limits:
            if name in refused:
                limiter.refund(key)
        name = next(name for name, _ in limits if name in refused)
        return name, refused[name]

    def give_back(self, key: str, name: str, limiter: RateLimiter) -> None:
        """Uncount one request of `key` that `take` counted against `limiter` (named `name`):
        here, and in this replica's block of the shared counter (no statement)."""
        limiter.refund(key)
        if self.shared is not None:
            self.shared.give_back(key, name)

    @classmethod
    def default(cls) -> PersonLimits:
        return cls.of(
            PERSON_REQUESTS_PER_MINUTE,
            PERSON_REQUESTS_BURST,
            AUDITED_READS_PER_HOUR,
            AUDITED_READS_BURST,
        )

    @classmethod
    def of(
        cls,
        per_minute: int,
        burst: int,
        audited_per_hour: int,
        audited_burst: int,
        shared: SharedCounter | None = None,
    ) -> PersonLimits:
        """Limits from settings' figures; a rate of 0 turns that limit off."""
        return cls(
            RateLimiter(per_minute, 60, burst=burst) if per_minute else None,
            RateLimiter(audited_per_hour, 3600, burst=audited_burst) if audited_per_hour else None,
            shared,
        )


@dataclass(frozen=True, slots=True)
class RouteLimit:
    """A per-person limit on some routes only (intake's reports), counted with the person's
    other limits (in the same statement when they are shared): `routes` as
    "METHOD /template", `what` the 429's words for what is limited (zh-CN, English).

    The edge counts a request before its body is read; an answer whose status is in
    `given_back` (intake's 400 and 422: the route refused what was sent, and did nothing)
    gives the request back to this limit, so a person's typing mistakes do not use up what
    they may send. The person's other limits (`requests`) still count it: a token sending
    refused requests flat out is held by those."""

    name: str
    routes: tuple[str, ...]
    limiter: RateLimiter
    what: tuple[str, str]
    given_back: frozenset[int] = frozenset()


def person_key(campus_id: str, sub: str) -> str:
    """One person's key: the same subject on two campuses is two people (the length keeps a
    campus ending in the separator from meeting another)."""
    return f"{len(campus_id)}:{campus_id}:{sub}"


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
