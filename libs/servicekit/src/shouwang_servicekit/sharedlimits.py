"""Per-person limits that hold across a service's replicas: one shared counter per person and
limit, in a table of the service's own PostgreSQL.

Each replica keeps its own `RateLimiter` too (`ratelimits`), and asks it first: a person
over the rate in one replica is over it everywhere, so a flood is refused without a
statement. A request the local limiter admits is then counted in the shared table by one
statement (GCRA, as `RateLimiter`, on the database's clock, so replicas whose clocks differ
still agree), which decides. Were the limits per process only, two replicas would let one
stolen token read files at twice the documented rate, and every replica added more.

A statement per request costs a hot path (intake's report POST: half its rate). With a
`block` of B, one statement claims up to B requests of a person's allowance under each limit
(fewer when their burst has fewer left), and the replica spends them without a statement
until they run out. The count stays exact but for blocks claimed and not yet spent: a person
gets no more than the limit across replicas, and may be refused up to B - 1 requests per
replica early (one replica holding the last of a burst while another is asked). A block of
1 is a statement per request. A block claimed is a block's worth of the person's waiting
requests: while a claim is under way, up to B - 1 more of them await it and spend what it
brings (or look again, if it brought too little); only requests beyond those claim again.
Otherwise, when a block ran out, every request of the person in flight would claim one.

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
from collections import OrderedDict
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
#: People whose unspent block a replica remembers, at most (the idlest forgotten first).
MAX_ALLOWANCES = 100_000
_FORGET_EVERY_SECONDS = 60.0

# One statement per limited request, for every limit it counts against (a file read: the
# person's requests and their audited reads): each limit grants up to `$5` requests (a block;
# fewer if the person's burst has fewer left, none when they are over it) and the answer says
# how many each granted, or how long to wait. `$2` are the limits' names, `$3` their intervals
# between two requests, `$4` their tolerances (interval × (burst - 1)); times are epoch
# seconds on the database's clock. The rows a person already has are locked and planned from;
# a row two replicas create at once is added to, never overwritten (ON CONFLICT adds the
# span granted to whatever is there).
_TAKE = """
WITH clock AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS now),
held AS (
    SELECT limit_name, due FROM {table}
    WHERE person = $1::bytea AND limit_name = ANY($2::text[])
    FOR UPDATE
),
plan AS (
    SELECT asked.name, asked.step, asked.tolerance, clock.now,
           greatest(held.due, clock.now) AS start
    FROM unnest($2::text[], $3::float8[], $4::float8[]) AS asked(name, step, tolerance)
    CROSS JOIN clock
    LEFT JOIN held ON held.limit_name = asked.name
),
granted AS (
    SELECT name, step, tolerance, now, start,
           least($5::bigint, floor((now + 1e-6 + tolerance - start) / step)::bigint + 1) AS k
    FROM plan
),
taken AS (
    INSERT INTO {table} AS l (person, limit_name, due)
    SELECT $1::bytea, name, start + k * step FROM granted WHERE k >= 1
    ON CONFLICT (person, limit_name) DO UPDATE
        SET due = greatest(l.due, (SELECT now FROM clock))
            + (SELECT g.k * g.step FROM granted g WHERE g.name = l.limit_name)
)
SELECT name AS limit_name, greatest(k, 0) AS granted, start - tolerance - now AS wait
FROM granted
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
        block: int = 1,
    ) -> None:
        if not key:
            raise ValueError("the shared limits need a key to pseudonymise people with")
        if block < 1:
            raise ValueError("a block of the shared limits is at least one request")
        self._dsn = dsn
        self._key = key
        self._take = _TAKE.format(table=quoted(table))
        self._forget = _FORGET.format(table=quoted(table))
        self._timeout = timeout
        self._retry_after_failure = retry_after_failure
        self._pool_size = pool_size
        self._block = block
        # (person key, limit) -> requests claimed by a statement and not spent yet
        self._allowance: OrderedDict[tuple[str, str], int] = OrderedDict()
        # (person key, limit) -> the claims under way of its next blocks
        self._claiming: dict[tuple[str, str], list[_Claim]] = {}
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
        tolerance): the limits that refused it, with the seconds to wait (empty: counted by
        all), or None when the store did not answer (the caller's local decision stands).
        A limit whose block this replica still holds is counted here; the others in one
        statement, which claims the next block of each, unless a claim of one of them is
        under way already: then the request awaits it and looks again."""
        while True:
            spent: list[tuple[str, str]] = []
            asked: list[tuple[str, float, float]] = []
            for limit in limits:
                slot = (person_key, limit[0])
                if self._allowance.get(slot, 0) > 0:
                    self._keep(slot, self._allowance[slot] - 1)
                    spent.append(slot)
                else:
                    asked.append(limit)
            if not asked:
                return {}
            under_way = self._seats(person_key, asked)
            if not under_way:
                break
            self._give_back(spent)  # to others while this request waits
            await asyncio.wait(under_way)  # never cancels the claim, should this request go
        rows = await self._claim_alone(person_key, asked)
        if rows is None:  # the local decision stands: served, it spent what it took here
            return None
        refused: dict[str, float] = {}
        for row in rows:
            if row["granted"] > 0:  # this request spends one of the block claimed
                slot = (person_key, row["limit_name"])
                self._keep(slot, self._allowance.get(slot, 0) + int(row["granted"]) - 1)
            else:
                refused[row["limit_name"]] = max(float(row["wait"]), 1e-3)
        if refused:  # a refused request spends nothing it took from a block here
            self._give_back(spent)
        return refused

    def give_back(self, person_key: str, name: str) -> None:
        """Give back one request of the person `take` counted under the limit `name` (the
        route refused it for what it said): this replica spends it on the person's next
        request, as it spends the rest of a block, without a statement. Had the store not
        answered when it was counted, this is one request the table never counted: at most
        one a person and replica, still held by the replica's own limiter."""
        self._give_back([(person_key, name)])

    def _seats(
        self, person_key: str, limits: Sequence[tuple[str, float, float]]
    ) -> set[asyncio.Future[None]]:
        """A seat on a claim under way for each limit, taken (what to await), or none taken
        when one of them has no claim with a seat left (this request claims them itself)."""
        found: list[_Claim] = []
        for name, _, _ in limits:
            claim = next((c for c in self._claiming.get((person_key, name), ()) if c.seats), None)
            if claim is None:
                return set()
            found.append(claim)
        for claim in found:
            claim.seats -= 1
        return {claim.done for claim in found}

    def _give_back(self, spent: Sequence[tuple[str, str]]) -> None:
        for slot in spent:
            self._keep(slot, self._allowance.get(slot, 0) + 1)

    async def _claim_alone(
        self, person_key: str, limits: Sequence[tuple[str, float, float]]
    ) -> list[asyncpg.Record] | None:
        """`_claim`, under way for each limit until it ends (however it ends), with a seat
        for each of the block's requests but this one."""
        claim = _Claim(asyncio.get_running_loop().create_future(), self._block - 1)
        slots = [(person_key, name) for name, _, _ in limits]
        for slot in slots:
            self._claiming.setdefault(slot, []).append(claim)
        try:
            return await self._claim(person_key, limits)
        finally:
            for slot in slots:
                claims = self._claiming.pop(slot, [])
                if others := [c for c in claims if c is not claim]:
                    self._claiming[slot] = others
            claim.done.set_result(None)

    async def _claim(
        self, person_key: str, limits: Sequence[tuple[str, float, float]]
    ) -> list[asyncpg.Record] | None:
        pool = self._pool
        if pool is None or not self.available:
            return None
        names = [name for name, _, _ in limits]
        steps = [step for _, step, _ in limits]
        tolerances = [tolerance for _, _, tolerance in limits]
        try:
            async with asyncio.timeout(self._timeout):
                async with pool.acquire() as conn:
                    return list(
                        await conn.fetch(
                            self._take,
                            self.person(person_key),
                            names,
                            steps,
                            tolerances,
                            self._block,
                        )
                    )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # unreachable, slow, misconfigured: all fall back alike
            self._failed(exc)
            return None

    def _keep(self, slot: tuple[str, str], unspent: int) -> None:
        if unspent <= 0:
            self._allowance.pop(slot, None)
            return
        self._allowance[slot] = unspent
        self._allowance.move_to_end(slot)
        if len(self._allowance) > MAX_ALLOWANCES:
            self._allowance.popitem(last=False)

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


class _Claim:
    """A claim of a person's next blocks under way: done when it ends, and how many more of
    the person's requests may await it."""

    __slots__ = ("done", "seats")

    def __init__(self, done: asyncio.Future[None], seats: int) -> None:
        self.done = done
        self.seats = seats
