"""What every composition root opens and `/readyz` asks: a PostgreSQL pool closed with the
service's exit stack, and the readiness checks of a pool and a broker.

One place for them, so a fifth and sixth service do not copy the pool's settings or the
checks' queries (each container still names the checks it has: the gateway has no broker).
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from typing import Any

import asyncpg
from faststream.kafka import KafkaBroker
from pydantic import SecretStr

from .ops import ReadinessCheck

#: Seconds a statement may run before asyncpg gives up on it (a pool's default).
COMMAND_TIMEOUT_SECONDS = 10.0
#: Seconds a closing pool waits for connections still in use before it drops them: their
#: transactions roll back, and the work's offsets were not committed, so it is done again.
POOL_CLOSE_SECONDS = 5.0

logger = logging.getLogger("shouwang.resources")


async def open_pool(
    stack: AsyncExitStack,
    url: SecretStr | str,
    *,
    min_size: int,
    max_size: int,
    **options: Any,
) -> asyncpg.Pool:
    """An asyncpg pool that `stack` closes (newest first, with what started after it)."""
    dsn = url.get_secret_value() if isinstance(url, SecretStr) else url
    options.setdefault("command_timeout", COMMAND_TIMEOUT_SECONDS)
    pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, **options)
    stack.push_async_callback(close_pool, pool)
    return pool


async def close_pool(pool: asyncpg.Pool, within: float = POOL_CLOSE_SECONDS) -> None:
    """Close `pool`, waiting at most `within` for connections still in use (a handler's
    transaction stuck on a lock, a statement of a stalled database), then terminate it. asyncpg's
    `close()` waits for them for ever: a service would outlive the grace period its deploy
    gives it (30 s) and be killed, not stopped."""
    try:
        await asyncio.wait_for(pool.close(), within)
    except TimeoutError:
        logger.warning(
            "the database pool still had connections in use %.0f s after shutdown began;"
            " dropping them (their transactions roll back, their work is done again)",
            within,
        )
        pool.terminate()


def database_check(pool: asyncpg.Pool) -> ReadinessCheck:
    """Ready when the pool hands out a connection that answers a query."""

    async def answers() -> bool:
        async with pool.acquire() as conn:
            return bool(await conn.fetchval("SELECT true"))

    return answers


def kafka_check(broker: KafkaBroker | None) -> ReadinessCheck:
    """Ready when the broker's cluster answers within 1.5 s, under `/readyz`'s 2 s (never, for a
    broker not built yet)."""

    async def answers() -> bool:
        return broker is not None and bool(await broker.ping(timeout=1.5))

    return answers
