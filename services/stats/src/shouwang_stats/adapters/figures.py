"""The figures of the active projection, read in one consistent snapshot.

The queries live by what they read: `counts` (figures with the distinct students behind
them), `timings` (durations case by case) and `figure_sql` (what they share).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Literal

import asyncpg

from ..domain.figures import Timeline
from ..domain.linked import Unit
from ..domain.scope import Scope
from ..domain.suppression import Count, Key
from .counts import (
    Family,
    breaches,
    campuses,
    escalations,
    follow_ups,
    found,
    notifications,
    open_cases,
    referrals,
    relieved,
    spine_counts,
)
from .db import Conn
from .figure_sql import Dimension, Window
from .hidden import hidden_cells, remember
from .timings import delivery_seconds, timelines

__all__ = ["Dimension", "Family", "NoProjection", "PgFigures", "Window", "reading"]


class NoProjection(Exception):
    """No generation is active yet (the first build has not finished)."""


@asynccontextmanager
async def reading(
    pool: asyncpg.Pool, writer: asyncpg.Pool | None = None
) -> AsyncIterator[PgFigures]:
    """The active generation's figures, read in one consistent snapshot; the cells a year
    hides are kept through `writer` (a pool of its own, so that readers holding their
    connection never wait on one another's for it; `pool` itself if None)."""
    async with (
        pool.acquire() as conn,
        conn.transaction(isolation="repeatable_read", readonly=True),
    ):
        generation = await conn.fetchval("SELECT generation FROM projection WHERE state = 'active'")
        if generation is None:
            raise NoProjection
        yield PgFigures(conn, int(generation), writer or pool)


class PgFigures:
    """The figure queries on one connection and generation (what the service layer reads).
    The years' hidden cells are read and added through `writer` (`conn` if None: a
    connection of its own, not in a read-only transaction)."""

    def __init__(self, conn: Conn, generation: int, writer: asyncpg.Pool | None = None) -> None:
        self.conn = conn
        self.generation = generation
        self.writer = writer
        self._hidden: dict[tuple[int, str], frozenset[Key]] = {}

    async def found(
        self, scope: Scope, window: Window, by: Dimension
    ) -> dict[tuple[str | None, str | None], Count]:
        return await found(self.conn, self.generation, scope, window, by)

    async def relieved(
        self, scope: Scope, window: Window, by: Dimension
    ) -> dict[str | None, Count]:
        return await relieved(self.conn, self.generation, scope, window, by)

    async def timelines(self, scope: Scope, window: Window) -> list[tuple[str, str, Timeline]]:
        return await timelines(self.conn, self.generation, scope, window)

    async def breaches(
        self, scope: Scope, window: Window, now: datetime, by: Literal["role", "month"]
    ) -> dict[tuple[str | None, str | None], Count]:
        return await breaches(self.conn, self.generation, scope, window, now, by)

    async def escalations(
        self, scope: Scope, window: Window
    ) -> dict[tuple[str | None, str | None], Count]:
        return await escalations(self.conn, self.generation, scope, window)

    async def referrals(self, scope: Scope, window: Window) -> dict[str | None, Count]:
        return await referrals(self.conn, self.generation, scope, window)

    async def follow_ups(
        self, scope: Scope, window: Window, now: datetime
    ) -> dict[str | None, Count]:
        return await follow_ups(self.conn, self.generation, scope, window, now)

    async def open_cases(self, scope: Scope, tz: str) -> dict[tuple[str | None, str | None], Count]:
        return await open_cases(self.conn, self.generation, scope, tz)

    async def notifications(
        self, scope: Scope, window: Window
    ) -> dict[tuple[str | None, str | None], Count]:
        return await notifications(self.conn, self.generation, scope, window)

    async def delivery_seconds(self, scope: Scope, window: Window) -> list[tuple[str, str, float]]:
        return await delivery_seconds(self.conn, self.generation, scope, window)

    async def spine(
        self, family: Family, window: Window, now: datetime
    ) -> dict[tuple[Unit, str | None], Count]:
        return await spine_counts(self.conn, self.generation, family, window, now)

    async def campuses(self) -> list[str]:
        return await campuses(self.conn, self.generation)

    async def hidden_before(self, year: int, family: str) -> frozenset[Key]:
        """The cells `year`'s figures of `family` have hidden so far (latest committed)."""
        if (year, family) not in self._hidden:
            if self.writer is None:
                found = await hidden_cells(self.conn, year, family)
            else:
                async with self.writer.acquire() as conn:
                    found = await hidden_cells(conn, year, family)
            self._hidden[(year, family)] = found
        return self._hidden[(year, family)]

    async def remember_hidden(
        self, year: int, family: str, seen: frozenset[Key], cells: frozenset[Key]
    ) -> frozenset[Key] | None:
        """Keep `cells` as hidden if the year's set is still `seen` (None), else the newer
        set (see `adapters.hidden.remember`)."""
        if self.writer is None:
            newer = await remember(self.conn, year, family, seen, cells)
        else:
            async with self.writer.acquire() as conn:
                newer = await remember(conn, year, family, seen, cells)
        self._hidden[(year, family)] = seen | cells if newer is None else newer
        return newer
