"""Retention: closed files lose their free text once the retention period has passed.

PIPL Art. 19 keeps personal information no longer than its purpose needs, and Art. 47 ends
it when the purpose is achieved or the retention period has run out. A closed file's notes,
plan texts and reasons served the care of a student; the structured, pseudonymous facts
(severities, states, times, outcomes) stay for the outcome figures, and the audit log says
when the text went (never what it said). See docs/retention.md.

Clinical safety first: a student with any case not closed is never touched, checked both
here (the due query) and in the database function itself.

The counseling center may also erase one student's file text at once, on the student's
written request (Art. 47), refused while a case of the student is open. The erasure is
announced (`student.erased`, through the outbox in the same transaction) so that intake,
triage and notify erase what they hold of the student too.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
from shouwang_contracts.events import StudentErased
from shouwang_contracts.vocabulary import Role

from ..adapters import retention as store
from ..adapters.db import campus_transaction
from ..domain.guards import NotPermitted
from . import events
from .access import Caller, CaseNotFound, ReadRefused

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
                due = await store.due_files(conn, retention, batch)
            for student_ref in due:
                async with campus_transaction(pool, campus_id) as conn:
                    if await store.erase_file_text(conn, student_ref, retention):
                        erased += 1
            # Only a campus that went well asks for another turn at once: a failing one
            # waits for the next interval rather than spin.
            more = more or len(due) == batch
        except Exception:
            logger.exception("retention failed for a campus")
    return erased, more


#: Who may erase a file on request: the counseling center (tier 6), which receives the
#: student's written request and answers for it.
ERASERS = frozenset({Role.COUNSELING_CENTER})


class ErasureRefused(ReadRefused):
    """An erasure asked while the student has a case open: 409, and audited in a transaction
    of its own like a refused read (so the entry survives the request's rollback)."""

    status = 409


@dataclass(frozen=True, slots=True)
class Erasure:
    """What an erasure on request did."""

    student_ref: str
    cases: int
    erased_at: datetime
    request_ref: str


async def erase_on_request(
    conn: asyncpg.Connection, caller: Caller, student_ref: str, request_ref: str
) -> Erasure:
    """Erase `student_ref`'s file text now, on the written request `request_ref` (PIPL Art.
    47): what retention would erase, up to now; the structured facts and the audit log stay.
    Never while a case of the student is open: care comes first, and an open case's notes
    are what its counsellor works with."""
    role = caller.principal.role
    if role not in ERASERS:
        raise NotPermitted("erasure_forbidden", "only the counseling center erases a file")
    if not await store.student_known(conn, student_ref):
        raise CaseNotFound("student_not_found", "No such student in the roster")
    open_case = NotPermitted(
        "erasure_case_open", "the student has a case open; close it before erasing the file"
    )
    refused = ErasureRefused(
        open_case,
        principal_ref=caller.person_ref,
        role=role.value,
        student_ref=student_ref,
        action="file.erase",
    )
    if await store.has_open_case(conn, student_ref):
        raise refused
    try:
        cases = await store.erase_file_text_on_request(
            conn,
            student_ref,
            principal_ref=caller.person_ref,
            role=role.value,
            request_ref=request_ref,
        )
    except asyncpg.ObjectInUseError as exc:  # a case opened between the check and the lock
        raise refused from exc
    erased_at = datetime.now(UTC)
    # In the erasure's transaction: the other services hear of it exactly when it happened.
    await events.publish(
        conn,
        caller.principal.campus_id,
        StudentErased(student_ref=student_ref, erased_at=erased_at, cases=cases),
    )
    return Erasure(student_ref, cases, erased_at, request_ref)
