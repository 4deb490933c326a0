"""The live consumers' use case: fold a batch of events into the active generation."""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg

from ..adapters.generations import active_number
from ..adapters.rows import fold_into
from ..domain.projection import Projection, Row


class NoActiveGeneration(RuntimeError):
    """The projection has no active generation (bootstrap creates one before consuming)."""


async def fold_batch(pool: asyncpg.Pool, batch: Iterable[list[Row]]) -> int:
    """Join the rows of a batch of events into the active generation, in one transaction.

    The generation is read inside the transaction: a batch that began before a rebuild's swap
    writes into the old one, and the rebuild's last catch-up covers it (see `rebuild`).
    """
    projection = Projection()
    for rows in batch:
        projection.fold_all(rows)
    async with pool.acquire() as conn, conn.transaction():
        generation = await active_number(conn)
        if generation is None:
            raise NoActiveGeneration("no active generation to fold into")
        return await fold_into(conn, generation, projection)
