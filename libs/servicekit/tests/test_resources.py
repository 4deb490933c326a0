"""The pool and readiness checks every composition root uses, on real PostgreSQL and Kafka: the
pool closes with the service's exit stack, a check says ready only when its dependency answers."""

from __future__ import annotations

from contextlib import AsyncExitStack

import asyncpg
import pytest
from pydantic import SecretStr
from shouwang_servicekit.kafka.clients import KafkaClients
from shouwang_servicekit.resources import database_check, kafka_check, open_pool

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
