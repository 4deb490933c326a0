"""The pool and readiness checks every composition root uses, on real PostgreSQL and Kafka: the
pool closes with the service's exit stack, a check says ready only when its dependency answers."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import asyncpg
import pytest
from pydantic import SecretStr
from shouwang_servicekit.kafka.clients import KafkaClients
from shouwang_servicekit.resources import close_pool, database_check, kafka_check, open_pool

pytestmark = pytest.mark.integration


async def test_the_pool_answers_until_the_stack_closes_it(postgres_admin_dsn: str) -> None:
    async with AsyncExitStack() as stack:
        pool = await open_pool(stack, SecretStr(postgres_admin_dsn), min_size=1, max_size=2)
        assert await database_check(pool)() is True
        assert pool.get_max_size() == 2
    with pytest.raises(asyncpg.InterfaceError):  # closed with the stack
        async with pool.acquire():
            pass


async def test_a_closed_pool_is_not_ready(postgres_admin_dsn: str) -> None:
    async with AsyncExitStack() as stack:
        pool = await open_pool(stack, postgres_admin_dsn, min_size=1, max_size=1)
    with pytest.raises(asyncpg.InterfaceError):
        await database_check(pool)()


async def test_kafka_is_ready_only_when_a_started_broker_reaches_the_cluster(
    kafka_bootstrap: str,
) -> None:
    assert await kafka_check(None)() is False  # not built yet: never ready
    broker = KafkaClients(kafka_bootstrap, client_id="shouwang-kit-test").broker(linger_ms=1)
    await broker.start()
    try:
        assert await kafka_check(broker)() is True
    finally:
        await broker.stop()


async def test_a_connection_a_stuck_handler_holds_does_not_keep_the_service_from_stopping(
    postgres_admin_dsn: str,
) -> None:
    """A handler's transaction stuck on a lock (or a stalled statement) holds its connection:
    asyncpg's `close()` waited for it for ever, and the service outlived its grace period and
    was killed (CI: casework killed 25 s after SIGTERM). The pool now drops it after its bound."""
    stack = AsyncExitStack()
    pool = await open_pool(stack, postgres_admin_dsn, min_size=1, max_size=2)
    held = await pool.acquire()  # never released: the stuck handler's
    stuck = asyncio.create_task(held.fetchval("SELECT pg_sleep(60)"))
    await asyncio.sleep(0.2)
    await asyncio.wait_for(close_pool(pool, within=0.5), 30)
    with pytest.raises(asyncpg.InterfaceError):
        async with pool.acquire():
            pass
    with pytest.raises((asyncpg.ConnectionDoesNotExistError, asyncpg.InterfaceError)):
        await stuck  # its transaction went with the connection
    await stack.aclose()  # the stack's own close of the dropped pool is harmless
