"""Transactions with the campus setting row-level security reads.

An HTTP request works inside its caller's campus (`shouwang.campus_id`); the consumers and
workers serve every campus and say so (`shouwang.all_campuses`), each for one transaction.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import cast

import asyncpg


@asynccontextmanager
async def campus_transaction(
    pool: asyncpg.Pool, campus_id: str
) -> AsyncIterator[asyncpg.Connection]:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT set_config('shouwang.campus_id', $1, true)", campus_id)
        # The pool's proxy forwards every Connection method; the stubs do not say so.
        yield cast(asyncpg.Connection, conn)


@asynccontextmanager
async def worker_transaction(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT set_config('shouwang.all_campuses', 'on', true)")
        yield cast(asyncpg.Connection, conn)


async def claim_event(
    conn: asyncpg.Connection, consumer: str, event_id: str, campus_id: str
) -> bool:
    """True the first time `consumer` sees `event_id` (in the effects' transaction)."""
    status = await conn.execute(
        "INSERT INTO processed_events (consumer, event_id, campus_id) VALUES ($1, $2, $3)"
        " ON CONFLICT DO NOTHING",
        consumer,
        event_id,
        campus_id,
    )
    return bool(status.endswith(" 1"))
