"""Per-person limits that hold across a service's replicas: one shared counter per person and
limit, in a table of the service's own PostgreSQL.

Each replica keeps its own `RateLimiter` too (`ratelimits`), and asks it first: a person
over the rate in one replica is over it everywhere, so a flood is refused without a
statement. A request the local limiter admits is then counted in the shared table by one
statement (GCRA, as `RateLimiter`, on the database's clock, so replicas whose clocks differ
still agree), which decides. Were the limits per process only, two replicas would let one
stolen token read files at twice the documented rate, and every replica added more.

Fail safe: when the database does not answer within `timeout` (unreachable, overloaded,
the table missing), the local limiter's decision stands, so a person is still limited per
process, never unlimited and never refused for the store's sake; the store is left alone
for `retry_after_failure` seconds, then tried again, and each failure is logged once.

The table holds no personal data: a person is an HMAC of their campus and subject (keyed,
so a student number cannot be found by hashing every number), a limit's name and when the
person's next request is due. Rows whose due time has passed mean nothing more (the person
is as new) and are deleted every minute. A service opts in with a migration creating the
table (`TABLE_SQL`, UNLOGGED: limits need no crash safety and write no WAL) and passes its
database URL to `SharedSettings.person_limits(...)`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections.abc import Sequence

import asyncpg

from .outbox_table import quoted
from .tasks import BackgroundTasks

logger = logging.getLogger("shouwang.person_limits")

#: The table a service's migration creates (its own schema, by `search_path`).
TABLE_SQL = """
CREATE UNLOGGED TABLE person_limits (
    person bytea NOT NULL,
    limit_name text NOT NULL,
    due double precision NOT NULL,
    PRIMARY KEY (person, limit_name)
);
"""
#: The longest a request waits for the shared counter before the local decision stands.
DEFAULT_TIMEOUT_SECONDS = 0.5
#: How long the store is left alone after it failed to answer.
DEFAULT_RETRY_AFTER_FAILURE_SECONDS = 5.0
#: Connections each replica keeps for the counter, at most (none while idle).
DEFAULT_POOL_SIZE = 4
_FORGET_EVERY_SECONDS = 60.0

# One statement per limited request, for every limit it counts against (a file read: the
# person's requests and their audited reads): each limit counts the request unless the person
# is over it, and the answer names the limits that refused, with how long to wait. `$2` are
# the limits' names, `$3` their intervals between two requests, `$4` their tolerances
# (interval × (burst - 1)); times are epoch seconds on the database's clock.
_TAKE = """
WITH clock AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS now),
taken AS (
    INSERT INTO {table} AS l (person, limit_name, due)
    SELECT $1::bytea, asked.name, clock.now + asked.step
    FROM unnest($2::text[], $3::float8[]) AS asked(name, step), clock
    ON CONFLICT (person, limit_name) DO UPDATE
        SET due = greatest(l.due, (SELECT now FROM clock))
            + ($3::float8[])[array_position($2::text[], l.limit_name)]
        WHERE greatest(l.due, (SELECT now FROM clock))
            - ($4::float8[])[array_position($2::text[], l.limit_name)]
            <= (SELECT now FROM clock) + 1e-6
    RETURNING l.limit_name
)
SELECT l.limit_name,
       l.due - ($4::float8[])[array_position($2::text[], l.limit_name)] - clock.now AS wait
FROM {table} l, clock
WHERE l.person = $1::bytea AND l.limit_name = ANY($2::text[])
    AND l.limit_name NOT IN (SELECT limit_name FROM taken)
"""
_FORGET = "DELETE FROM {table} WHERE due < extract(epoch FROM clock_timestamp())"


class SharedCounter:
    """The shared GCRA counters of one service, in `table` of the database at `dsn`."""

    def __init__(
        self,
        dsn: str,
        *,
        key: bytes,
        table: str = "person_limits",
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        retry_after_failure: float = DEFAULT_RETRY_AFTER_FAILURE_SECONDS,
        pool_size: int = DEFAULT_POOL_SIZE,
    ) -> None:
        if not key:
            raise ValueError("the shared limits need a key to pseudonymise people with")
        self._dsn = dsn
        self._key = key
        self._take = _TAKE.format(table=quoted(table))
        self._forget = _FORGET.format(table=quoted(table))
        self._timeout = timeout
        self._retry_after_failure = retry_after_failure
        self._pool_size = pool_size
        self._pool: asyncpg.Pool | None = None
        self._tasks = BackgroundTasks()
        self._down_until = 0.0
        #: How many times the store did not answer (each time, the local decision stood).
        self.failures = 0

    async def open(self) -> None:
        """Make the pool (no connection yet: an unreachable database fails no start-up) and
        start forgetting rows whose time has passed."""
        self._pool = await asyncpg.create_pool(
            self._dsn, min_size=0, max_size=self._pool_size, command_timeout=self._timeout * 4
        )
        self._tasks.every(_FORGET_EVERY_SECONDS, self._forget_passed, name="person-limits")

    async def close(self) -> None:
        await self._tasks.close()
        if self._pool is not None:
            pool, self._pool = self._pool, None
            pool.terminate()

    def person(self, person_key: str) -> bytes:
        """What the table keeps of a person: a keyed hash of their key, 16 bytes."""
        return hmac.new(self._key, person_key.encode(), hashlib.sha256).digest()[:16]

    @property
    def available(self) -> bool:
        """False while the store is left alone after a failure."""
        return self._pool is not None and time.monotonic() >= self._down_until

    async def take(
        self, person_key: str, limits: Sequence[tuple[str, float, float]]
    ) -> dict[str, float] | None:
        """Count one request of the person against each of `limits` (name, interval,
        tolerance) in one statement: the limits that refused it, with the seconds to wait
        (empty: counted by all), or None when the store did not answer (the caller's local
        decision stands)."""
        pool = self._pool
        if pool is None or not self.available:
            return None
        names = [name for name, _, _ in limits]
        steps = [step for _, step, _ in limits]
        tolerances = [tolerance for _, _, tolerance in limits]
        try:
            async with asyncio.timeout(self._timeout):
                async with pool.acquire() as conn:
                    refused = await conn.fetch(
                        self._take, self.person(person_key), names, steps, tolerances
                    )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # unreachable, slow, misconfigured: all fall back alike
            self._failed(exc)
            return None
        return {row["limit_name"]: max(float(row["wait"]), 1e-3) for row in refused}

    def _failed(self, exc: BaseException) -> None:
        self.failures += 1
        was_up = time.monotonic() >= self._down_until
        self._down_until = time.monotonic() + self._retry_after_failure
        if was_up:
            logger.warning(
                "shared person limits unavailable; limiting per process for %.0f s",
                self._retry_after_failure,
                extra={"error": type(exc).__name__},
            )

    async def _forget_passed(self) -> bool:
        if self.available and self._pool is not None:
            await self._pool.execute(self._forget, timeout=10)
        return False
