"""Retention of the roster: rows of students who left end once their files are done with.

The hourly chore `leaver-roster-retention` deletes, campus by campus in small transactions,
the roster rows `adapters.erasure.delete_leavers` finds due (docs/retention.md, "Casework").
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta

import asyncpg

from ..adapters.db import campus_transaction
from ..adapters.erasure import delete_leavers

logger = logging.getLogger(__name__)


async def delete_due_leavers(
    pool: asyncpg.Pool, campuses: Iterable[str], gone_for: timedelta, batch: int
) -> tuple[int, bool]:
    """Delete up to `batch` due leavers' rows per campus; how many, and whether a campus had
    more due (a full batch)."""
    deleted, more = 0, False
    for campus_id in campuses:
        try:
            async with campus_transaction(pool, campus_id) as conn:
                gone = await delete_leavers(conn, gone_for, batch)
        except Exception:
            logger.exception("leaver roster retention failed for a campus")
            continue
        if gone:
            logger.info("retention: %d roster rows of leavers deleted in %s", len(gone), campus_id)
        deleted += len(gone)
        more = more or len(gone) == batch
    return deleted, more


def leaver_roster_chore(
    pool: asyncpg.Pool, campuses: list[str], days: int, batch: int
) -> Callable[[], Awaitable[bool]]:
    """The periodic chore; True (again at once) while a campus had a full batch due."""

    async def delete() -> bool:
        _, more = await delete_due_leavers(pool, campuses, timedelta(days=days), batch)
        return more

    return delete
