"""Generations of the projection: which one readers see, which one a rebuild fills.

Exactly one generation is active at a time (a unique index says so). A rebuild creates a
`building` generation, fills it and swaps it in one transaction; the one it replaces is
retired and its rows deleted afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .db import Conn
from .rows import delete_generation

# Session advisory lock held by the one process rebuilding (any replica may try).
REBUILD_LOCK = 0x5357_5354


@dataclass(frozen=True, slots=True)
class Generation:
    """One generation: its number, the rule version that built it, its state."""

    generation: int
    version: int
    state: str
    started_at: datetime
    activated_at: datetime | None
    replayed: int | None


_COLUMNS = "generation, version, state, started_at, activated_at, replayed"


async def active(conn: Conn) -> Generation | None:
    """The generation readers and the live consumers use."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM projection WHERE state = 'active'"  # noqa: S608
    )
    return Generation(**dict(row)) if row else None


async def active_number(conn: Conn) -> int | None:
    value = await conn.fetchval("SELECT generation FROM projection WHERE state = 'active'")
    return int(value) if value is not None else None


async def all_generations(conn: Conn) -> list[Generation]:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM projection ORDER BY generation"  # noqa: S608
    )
    return [Generation(**dict(r)) for r in rows]


async def ensure_active(conn: Conn, version: int) -> Generation:
    """The active generation; on a fresh database an empty one of `version` (which the
    caller then rebuilds)."""
    await conn.execute(
        """
        INSERT INTO projection (generation, version, state, activated_at)
        SELECT coalesce(max(generation), 0) + 1, $1, 'active', now() FROM projection
        WHERE NOT EXISTS (SELECT 1 FROM projection WHERE state = 'active')
        ON CONFLICT DO NOTHING
        """,
        version,
    )
    found = await active(conn)
    assert found is not None
    return found


async def start_building(conn: Conn, version: int) -> int:
    """A new, empty generation to rebuild into; leftovers of crashed rebuilds are cleared."""
    await clear_inactive(conn)
    number: int = await conn.fetchval(
        """
        INSERT INTO projection (generation, version, state)
        SELECT coalesce(max(generation), 0) + 1, $1, 'building' FROM projection
        RETURNING generation
        """,
        version,
    )
    return number


async def activate(conn: Conn, generation: int, replayed: int) -> int | None:
    """Swap `generation` in (one transaction); returns the generation it retired."""
    async with conn.transaction():
        retired = await conn.fetchval(
            "UPDATE projection SET state = 'retired' WHERE state = 'active' RETURNING generation"
        )
        await conn.execute(
            """
            UPDATE projection SET state = 'active', activated_at = now(), replayed = $2
            WHERE generation = $1
            """,
            generation,
            replayed,
        )
    return int(retired) if retired is not None else None


async def clear_inactive(conn: Conn) -> list[int]:
    """Delete the rows and records of every retired or abandoned building generation."""
    stale = [
        int(r["generation"])
        for r in await conn.fetch("SELECT generation FROM projection WHERE state <> 'active'")
    ]
    for number in stale:
        async with conn.transaction():
            await delete_generation(conn, number)
            await conn.execute("DELETE FROM projection WHERE generation = $1", number)
    return stale


async def try_rebuild_lock(conn: Conn) -> bool:
    """Take the rebuild lock on this connection's session, if nobody holds it."""
    return bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", REBUILD_LOCK))


async def release_rebuild_lock(conn: Conn) -> None:
    await conn.execute("SELECT pg_advisory_unlock($1)", REBUILD_LOCK)
