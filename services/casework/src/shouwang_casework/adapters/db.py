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


class CampusBatch:
    """One transaction holding the effects of a batch of events, of any campuses: `enter`
    switches row-level security to an event's campus before its effects are written."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self._campus: str | None = None

    async def enter(self, campus_id: str) -> asyncpg.Connection:
        """The connection, now seeing only `campus_id`'s rows (until the next `enter`)."""
        if campus_id != self._campus:
            await self.conn.execute("SELECT set_config('shouwang.campus_id', $1, true)", campus_id)
            self._campus = campus_id
        return self.conn


@asynccontextmanager
async def campus_batch(pool: asyncpg.Pool) -> AsyncIterator[CampusBatch]:
    """A transaction for a batch of events (one commit for all): it sees no campus's rows
    until `CampusBatch.enter` names one."""
    async with pool.acquire() as conn, conn.transaction():
        yield CampusBatch(cast(asyncpg.Connection, conn))
