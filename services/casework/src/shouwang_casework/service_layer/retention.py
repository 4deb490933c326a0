"""Retention: closed files lose their free text once the retention period has passed.

PIPL Art. 19 keeps personal information no longer than its purpose needs, and Art. 47 ends
it when the purpose is achieved or the retention period has run out. A closed file's notes,
plan texts and reasons served the care of a student; the structured, pseudonymous facts
(severities, states, times, outcomes) stay for the outcome figures, and the audit log says
when the text went (never what it said). See docs/retention.md.

Clinical safety first: a student with any case not closed is never touched, checked both
here (the due query) and in the database function itself.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

import asyncpg

from ..adapters.db import campus_transaction
from ..adapters.retention import due_files, erase_file_text

logger = logging.getLogger(__name__)


async def erase_due_files(
    pool: asyncpg.Pool, campuses: Iterable[str], retention: timedelta, batch: int
) -> tuple[int, bool]:
    """Erase up to `batch` due files per campus, each in a transaction of its own (a small
    one: one student's rows). Returns the files erased and whether a campus had more due."""
    erased, more = 0, False
    for campus_id in campuses:
        try:
            async with campus_transaction(pool, campus_id) as conn:
                due = await due_files(conn, retention, batch)
            for student_ref in due:
                async with campus_transaction(pool, campus_id) as conn:
                    if await erase_file_text(conn, student_ref, retention):
                        erased += 1
            # Only a campus that went well asks for another turn at once: a failing one
            # waits for the next interval rather than spin.
            more = more or len(due) == batch
        except Exception:
            logger.exception("retention failed for a campus")
    return erased, more
