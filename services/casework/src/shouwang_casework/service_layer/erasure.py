"""Retention of the roster: rows of students who left end once their files are done with;
roster import records and their row errors end with age.

The hourly chore `leaver-roster-retention` deletes, campus by campus in small transactions,
the roster rows `adapters.erasure.delete_leavers` finds due (docs/retention.md, "Casework").
The hourly chore `roster-import-retention` blanks the row errors of imports older than
`CASEWORK_ROSTER_IMPORT_ERROR_DAYS` and deletes the records older than
`CASEWORK_ROSTER_IMPORT_DAYS`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta

import asyncpg

from ..adapters.db import campus_transaction
from ..adapters.erasure import delete_leavers, end_roster_imports

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


def roster_import_chore(
    pool: asyncpg.Pool, campuses: list[str], errors_days: int, days: int, batch: int
) -> Callable[[], Awaitable[bool]]:
    """The periodic chore; True (again at once) while a campus had a full batch due. Counts
    only in the log: the errors quote student numbers."""
    errors_for, kept_for = timedelta(days=errors_days), timedelta(days=days)

    async def end() -> bool:
        more = False
        for campus_id in campuses:
            try:
                async with campus_transaction(pool, campus_id) as conn:
                    ended = await end_roster_imports(conn, errors_for, kept_for, batch)
            except Exception:
                logger.exception("roster import retention failed for a campus")
                continue
            if ended.errors_blanked or ended.deleted:
                logger.info(
                    "retention: roster imports in %s: %d lost their row errors, %d deleted",
                    campus_id,
                    ended.errors_blanked,
                    ended.deleted,
                )
            more = more or batch in (ended.errors_blanked, ended.deleted)
        return more

    return end
