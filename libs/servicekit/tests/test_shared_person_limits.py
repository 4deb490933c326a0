"""Per-person limits across replicas (docs/security/routes.md, "Left open" until this test):
each replica kept its own count, so behind two replicas (casework's and notify's in
Kubernetes) one stolen token read files at twice the documented rate, and more replicas
multiplied it. Two app instances on one real PostgreSQL stand for two replicas."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from fastapi import APIRouter, FastAPI
from shouwang_contracts.auth import mint_token
from shouwang_contracts.vocabulary import Role
from shouwang_devstack._proc import free_port
from shouwang_servicekit.ratelimits import PersonLimits, RateLimiter
from shouwang_servicekit.sharedlimits import TABLE_SQL, SharedCounter

from .service_apps import SECRET, small_service

pytestmark = pytest.mark.integration
router = APIRouter(prefix="/v1")
AUDITED = ["GET /v1/students/{student_ref}/file"]
#: Ten reads at once, then one an hour: the seconds a test lasts refill nothing.
BURST = 10
KEY = b"test-pseudonym-key-0123456789abcdef"


@router.get("/students/{student_ref}/file")
async def student_file(student_ref: str) -> dict[str, str]:
    return {"student_ref": student_ref}


def _limits(dsn: str) -> PersonLimits:
    return PersonLimits(
        requests=None,
        audited_reads=RateLimiter(1, 3600, burst=BURST),
        shared=SharedCounter(dsn, key=KEY, retry_after_failure=60),
    )


def _token(sub: str = "T1002") -> dict[str, str]:
    token = mint_token(SECRET, sub=sub, role=Role.RESIDENCE_COUNSELOR, campus_id="c")
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def limits_db(postgres_admin_dsn: str) -> AsyncIterator[str]:
    """A database of this test's own, holding the table a service's migration creates."""
    database = f"limits_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(postgres_admin_dsn)
    await admin.execute(f'CREATE DATABASE "{database}"')
    dsn = urlunsplit(urlsplit(postgres_admin_dsn)._replace(path=f"/{database}"))
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(TABLE_SQL)
        yield dsn
    finally:
        await conn.close()
        await admin.execute(f'DROP DATABASE "{database}" WITH (FORCE)')
        await admin.close()


async def _replicas(stack: AsyncExitStack, *dsns: str) -> list[httpx.AsyncClient]:
    """One started app per DSN (its lifespan run: the shared counter opens with it)."""
    clients = []
    for dsn in dsns:
        app: FastAPI = small_service(router, audited_reads=AUDITED, person_limits=_limits(dsn))[0]
        await stack.enter_async_context(app.router.lifespan_context(app))
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        clients.append(
            await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="http://t")
            )
        )
    return clients


async def test_a_stolen_token_is_not_given_twice_the_rate_by_two_replicas(limits_db: str) -> None:
    """Requests spread over two replicas (as a Service spreads connections) get the burst
    once, not once per replica; a colleague's reads are counted apart."""
    async with AsyncExitStack() as stack:
        one, two = await _replicas(stack, limits_db, limits_db)
        statuses: dict[int, list[int]] = {0: [], 1: []}
        for n in range(3 * BURST):
            replica = n % 2
            answer = await (one, two)[replica].get(f"/v1/students/s{n}/file", headers=_token())
            statuses[replica].append(answer.status_code)
        served = statuses[0].count(200) + statuses[1].count(200)
        assert served == BURST
        assert statuses[0].count(429) + statuses[1].count(429) == 2 * BURST
        assert statuses[0].count(200) > 0
        assert statuses[1].count(200) > 0
        refused = await one.get("/v1/students/s/file", headers=_token())
        assert refused.json()["code"] == "rate_limited"
        assert int(refused.headers["Retry-After"]) >= 1
        colleague = await two.get("/v1/students/s/file", headers=_token("T1003"))
        assert colleague.status_code == 200

    conn = await asyncpg.connect(limits_db)
    try:
        rows = await conn.fetch("SELECT person, limit_name FROM person_limits")
    finally:
        await conn.close()
    # People are kept as keyed hashes: no staff or student number in the table.
    assert {r["limit_name"] for r in rows} == {"person_audited_reads"}
    assert len(rows) == 2
    for row in rows:
        assert len(row["person"]) == 16
        assert b"T100" not in row["person"]


async def test_an_unreachable_store_still_limits_per_process(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Fail safe: a database that does not answer leaves each replica its own limit: the
    burst is served (never all refused), then 429 (never unlimited); said once in the log."""
    nowhere = f"postgresql://nobody:nothing@127.0.0.1:{free_port()}/none"
    async with AsyncExitStack() as stack:
        (replica,) = await _replicas(stack, nowhere)
        with caplog.at_level(logging.WARNING, logger="shouwang.person_limits"):
            statuses = [
                (await replica.get(f"/v1/students/s{n}/file", headers=_token())).status_code
                for n in range(BURST + 5)
            ]
    assert statuses == [200] * BURST + [429] * 5
    assert len(caplog.records) == 1
    assert "T1002" not in repr(caplog.records[0].__dict__)


async def test_passed_rows_are_forgotten_and_the_table_holds_no_number(limits_db: str) -> None:
    counter = SharedCounter(limits_db, key=KEY)
    await counter.open()
    try:
        assert await counter.take("1:c:T1002", [("person", 0.001, 0.0)]) == {}
        conn = await asyncpg.connect(limits_db)
        try:
            await conn.execute("UPDATE person_limits SET due = due - 10")
            await counter._forget_passed()
            assert await conn.fetchval("SELECT count(*) FROM person_limits") == 0
        finally:
            await conn.close()
    finally:
        await counter.close()


class _Refusing(SharedCounter):
    """A shared counter that refuses the audited reads: the other replicas used them up."""

    async def take(
        self, person_key: str, limits: Sequence[tuple[str, float, float]]
    ) -> dict[str, float] | None:
        return {"person_audited_reads": 30.0}


async def test_a_read_refused_across_replicas_is_not_counted_in_the_replica() -> None:
    """Otherwise, should the database go away next, this replica would hold the person to
    less than their rate for reads it never served."""
    audited = RateLimiter(1, 3600, burst=3, clock=lambda: 0.0)
    requests = RateLimiter(100, 60, burst=100, clock=lambda: 0.0)
    limits = PersonLimits(requests, audited, _Refusing("postgresql://unused", key=KEY))
    asked = [("person", requests), ("person_audited_reads", audited)]
    assert await limits.take("k", asked) == ("person_audited_reads", 30.0)
    assert await limits.take("k", asked) == ("person_audited_reads", 30.0)
    # Locally the three reads of the burst are all still there.
    assert [audited.acquire("k") for _ in range(4)][:3] == [0.0, 0.0, 0.0]


STEP = 3600.0  # one an hour: the seconds a test lasts refill nothing
READS = [("person_audited_reads", STEP, STEP * (BURST - 1))]


async def test_a_block_is_spent_without_a_statement(limits_db: str) -> None:
    """A replica holding a block of a person's allowance counts the block's requests alone:
    with the table gone after the first, the next three are still counted, the fifth (a
    new block to claim) finds the store away and leaves the local decision (None)."""
    counter = SharedCounter(limits_db, key=KEY, block=4)
    await counter.open()
    try:
        assert await counter.take("1:c:T1002", READS) == {}
        conn = await asyncpg.connect(limits_db)
        try:
            await conn.execute("DROP TABLE person_limits")
        finally:
            await conn.close()
        assert [await counter.take("1:c:T1002", READS) for _ in range(3)] == [{}] * 3
        assert await counter.take("1:c:T1002", READS) is None
    finally:
        await counter.close()


async def test_two_replicas_claiming_blocks_still_share_one_burst(limits_db: str) -> None:
    """Blocks keep the count across replicas: requests alternating between two replicas that
    each claim four at a time are granted the burst once, and a refused request spends no
    block; the claims in the table add up to the burst exactly."""
    replicas = [SharedCounter(limits_db, key=KEY, block=4) for _ in range(2)]
    for counter in replicas:
        await counter.open()
    try:
        answers = [await replicas[n % 2].take("1:c:T1002", READS) for n in range(3 * BURST)]
    finally:
        for counter in replicas:
            await counter.close()
    assert answers.count({}) == BURST
    refused = [a for a in answers if a]
    assert len(refused) == 2 * BURST
    assert all(a["person_audited_reads"] > 0 for a in refused if a is not None)
    conn = await asyncpg.connect(limits_db)
    try:
        due = await conn.fetchval(
            "SELECT due - extract(epoch FROM clock_timestamp()) FROM person_limits"
        )
    finally:
        await conn.close()
    assert BURST * STEP - 60 < due <= BURST * STEP


class _Counting(SharedCounter):
    """A shared counter that counts its statements."""

    statements = 0

    async def _claim(
        self, person_key: str, limits: Sequence[tuple[str, float, float]]
    ) -> list[asyncpg.Record] | None:
        self.statements += 1
        return await super()._claim(person_key, limits)


async def test_requests_arriving_during_a_claim_await_it_rather_than_each_claiming(
    limits_db: str,
) -> None:
    """A person's requests at once, with no block held: one claims the next block and the
    others spend it when it comes (a block of four, twelve requests: three statements, not
    twelve)."""
    counter = _Counting(limits_db, key=KEY, block=4)
    await counter.open()
    try:
        plenty = [("person", 0.001, 100.0)]
        answers = await asyncio.gather(*(counter.take("1:c:T1002", plenty) for _ in range(12)))
    finally:
        await counter.close()
    assert answers == [{}] * 12
    assert counter.statements == 3


async def test_a_burst_sent_at_once_is_granted_whole_by_a_replica_claiming_blocks(
    limits_db: str,
) -> None:
    """Requests of one person at once each claimed a block when none was held, and each
    claim's grant overwrote the last: the burst's allowance went to requests that never
    came, and a person sending their burst at once was refused most of it."""
    counter = SharedCounter(limits_db, key=KEY, block=4)
    await counter.open()
    try:
        answers = await asyncio.gather(*(counter.take("1:c:T1002", READS) for _ in range(BURST)))
    finally:
        await counter.close()
    assert answers == [{}] * BURST


async def test_two_replicas_claiming_blocks_at_once_still_share_one_burst(limits_db: str) -> None:
    """A person's requests all at once on two replicas, each awaiting its replica's claim
    under way: the burst is granted once, not once per claim or per replica."""
    replicas = [SharedCounter(limits_db, key=KEY, block=4) for _ in range(2)]
    for counter in replicas:
        await counter.open()
    try:
        answers = await asyncio.gather(
            *(replicas[n % 2].take("1:c:T1002", READS) for n in range(3 * BURST))
        )
    finally:
        for counter in replicas:
            await counter.close()
    assert answers.count({}) == BURST
    assert all(a and a["person_audited_reads"] > 0 for a in answers if a != {})


class _Held(SharedCounter):
    """A shared counter whose statements wait until let go."""

    go = asyncio.Event()
    entered = 0

    async def _claim(
        self, person_key: str, limits: Sequence[tuple[str, float, float]]
    ) -> list[asyncpg.Record] | None:
        self.entered += 1
        await self.go.wait()
        return await super()._claim(person_key, limits)


async def test_a_request_gone_while_claiming_leaves_no_other_waiting(limits_db: str) -> None:
    """A client that hangs up cancels its request; were that request the one claiming, the
    person's requests awaiting its claim would wait for ever (or until their client gave up)."""
    counter = _Held(limits_db, key=KEY, block=4)
    counter.go = asyncio.Event()
    await counter.open()
    try:
        claiming = asyncio.create_task(counter.take("1:c:T1002", READS))
        await asyncio.sleep(0)
        waiting = asyncio.create_task(counter.take("1:c:T1002", READS))
        await asyncio.sleep(0)
        claiming.cancel()
        counter.go.set()
        async with asyncio.timeout(10):
            assert await waiting == {}
        assert claiming.cancelled()
    finally:
        await counter.close()


async def test_a_block_of_one_claims_for_each_request_at_once(limits_db: str) -> None:
    """With a block of one a claim brings one request's worth: requests awaiting it would
    only queue behind each other, so each claims at once, as it always did."""
    counter = _Held(limits_db, key=KEY, block=1)
    counter.go = asyncio.Event()
    await counter.open()
    try:
        plenty = [("person", 0.001, 100.0)]
        requests = [asyncio.create_task(counter.take("1:c:T1002", plenty)) for _ in range(3)]
        await asyncio.sleep(0)
        assert counter.entered == 3
        counter.go.set()
        async with asyncio.timeout(10):
            assert await asyncio.gather(*requests) == [{}] * 3
    finally:
        await counter.close()
