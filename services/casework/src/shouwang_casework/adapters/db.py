"""Database sessions scoped to one campus, so row-level security does the isolating.

Every table in casework's schema carries `campus_id` and a policy comparing it with the
`shouwang.campus_id` setting; tables use FORCE ROW LEVEL SECURITY so even the owning role is
held to it. A connection that never set the campus sees nothing.
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
    """A transaction in which only `campus_id`'s rows exist."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT set_config('shouwang.campus_id', $1, true)", campus_id)
        # The pool's proxy forwards every Connection method; the stubs do not say so.
        yield cast(asyncpg.Connection, conn)
