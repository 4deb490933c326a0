"""What staff read: the queue, the alerts awaiting them, a case with its alerts, referral and
follow-ups, its history.

Every read of case data about a student is audited: a case and its history one row per read
(`authorize_read`); the queue and the awaiting list, live pages a tab refreshes every 15 s,
once per student shown within the listing window (`audit_listing`, one statement a page).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import asyncpg
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.vocabulary import ReportChannel

from ..adapters import care, files
from ..adapters import cases as repo
from ..adapters.alerts import AlertRecord, alerts_of
from ..adapters.queue import (
    AwaitingFor,
    AwaitingRow,
    QueueFilter,
    QueueRow,
    count_awaiting,
    count_queue,
    list_awaiting,
    list_queue,
)
from ..domain.cases import Case
from ..domain.followup import FollowUp
from ..domain.guards import Reading, roles_awaiting, roles_stood_in_for
from ..domain.referral import Referral
from .access import (
    Caller,
    audit_listing,
    authorize_read,
    refuse_students,
    scope_grants,
)
from .loop import load_case


@dataclass(frozen=True, slots=True)
class CaseView:
    """A case and what hangs on it."""

    case: Case
    alerts: list[AlertRecord]
    referral: Referral | None
    follow_ups: list[FollowUp]
    reading: Reading = Reading.FULL  # FACTS: the referral's destination (free text) withheld
    report_channels: tuple[ReportChannel, ...] = ()  # how the case's filed reports were learned of


async def queue(
    conn: asyncpg.Connection,
    caller: Caller,
    query: QueueFilter,
    *,
    mine: bool,
    audit_window: timedelta,
) -> tuple[list[QueueRow], int]:
    """The caller's queue: cases in their scope (roster ∪ token), most serious first; each
    student shown audited once within `audit_window` (`case.queue.read`)."""
    refuse_students(caller)
    principal = caller.principal
    grants = await scope_grants(conn, caller)
    if mine:
        query = replace(query, owner_ref=caller.person_ref)
    rows, total = await list_queue(
        conn, campus_wide=principal.campus_wide, grants=grants, query=query
    )
    await audit_listing(
        conn, caller, [row.student_ref for row in rows], "case.queue.read", window=audit_window
    )
    return rows, total


async def queue_count(
    conn: asyncpg.Connection, caller: Caller, query: QueueFilter, *, mine: bool
) -> int:
    """How many cases the caller's queue holds (`queue`'s total, same scope and filters). It
    names no student, so it is no read of anyone's file (nothing audited): the queue asks it
    for the "in my scope" figure instead of listing the top student to read a total."""
    refuse_students(caller)
    if mine:
        query = replace(query, owner_ref=caller.person_ref)
    return await count_queue(
        conn,
        campus_wide=caller.principal.campus_wide,
        grants=await scope_grants(conn, caller),
        query=query,
    )


def _awaiting_for(caller: Caller) -> AwaitingFor:
    role = caller.principal.role
    return AwaitingFor(role, roles_awaiting(role), roles_stood_in_for(role))


async def awaiting_me(
    conn: asyncpg.Connection,
    caller: Caller,
    *,
    limit: int,
    offset: int,
    audit_window: timedelta,
) -> tuple[list[AwaitingRow], int]:
    """The alerts waiting for the caller to acknowledge: unacknowledged, about a student in
    their scope, owned where the caller's tier is the lowest that may stop them
    (`roles_awaiting`: not what a lower tier still holds) or where the caller's tier stands
    in for an empty rung (`roles_stood_in_for`: notify alerted the caller's tier in its
    place), the gravest and then the longest waiting first.

    The page is picked in SQL by the rule the acknowledgement applies (`may_acknowledge`):
    the caller's scope (`Placement.matches`, the queue's own clause) and owner roles
    `roles_awaiting` draws from `may_acknowledge` itself; a second look per row through
    `actor_for` would only repeat it, two queries a row on a page polled every 15 s
    (`test_the_list_and_the_acknowledgement_route_agree` holds the two together). Each listed
    student is audited once within `audit_window` (`case.awaiting.read`: its own page).
    """
    refuse_students(caller)
    awaiting = _awaiting_for(caller)
    if not awaiting.owner_roles:  # college leaders read cases but acknowledge nothing
        return [], 0
    rows, total = await list_awaiting(
        conn,
        campus_wide=caller.principal.campus_wide,
        grants=await scope_grants(conn, caller),
        awaiting=awaiting,
        limit=limit,
        offset=offset,
    )
    await audit_listing(
        conn,
        caller,
        [row.student_ref for row in rows],
        "case.awaiting.read",
        window=audit_window,
    )
    return rows, total


async def awaiting_count(
    conn: asyncpg.Connection, caller: Caller, now: datetime
) -> tuple[int, int]:
    """How many alerts wait for the caller, and how many are overdue: the list's own query,
    counted. It names no student, so it is no read of anyone's file (nothing audited): a
    badge polled every half minute would otherwise audit the top student each time."""
    refuse_students(caller)
    awaiting = _awaiting_for(caller)
    if not awaiting.owner_roles:
        return 0, 0
    return await count_awaiting(
        conn,
        campus_wide=caller.principal.campus_wide,
        grants=await scope_grants(conn, caller),
        awaiting=awaiting,
        now=now,
    )


async def case_view(conn: asyncpg.Connection, caller: Caller, case_id: str) -> CaseView:
    """One case with its alerts, current referral and follow-ups (audited)."""
    refuse_students(caller)
    case = await load_case(conn, case_id, lock=False)
    reading = await authorize_read(
        conn, caller, case.student_ref, "case.read", owner_ref=case.owner_ref
    )
    return CaseView(
        case=case,
        alerts=await alerts_of(conn, case.case_id),
        referral=await care.current_referral(conn, case.case_id),
        follow_ups=await care.follow_ups_of(conn, case.case_id),
        reading=reading,
        report_channels=await files.report_channels(conn, case.report_ids),
    )


async def case_history(
    conn: asyncpg.Connection, caller: Caller, cipher: NoteCipher, case_id: str
) -> list[repo.HistoryEntry]:
    """The case's immutable history (audited), its free text opened for those who read free
    text; for the others each entry keeps its structured facts and no text."""
    refuse_students(caller)
    case = await load_case(conn, case_id, lock=False)
    reading = await authorize_read(
        conn, caller, case.student_ref, "case.history.read", owner_ref=case.owner_ref
    )
    return await repo.history_of(conn, case, cipher if reading is Reading.FULL else None)
