"""The planning lanes never wait on each other in a circle: PostgreSQL would break the
circle after `deadlock_timeout` by failing one of them, perhaps the urgent lane, and a
critical alert would wait out the detector and the retry before its first message.

Each test pins one interleaving with asyncio events and waits on what PostgreSQL says
(`pg_locks`), never on time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from notify_delivery import CAMPUS, FAST_RETRY, SHANGHAI, load_samples, notice, open_case, rows
from notify_delivery import place_student as place
from notify_handlers import record
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events.casework import CaseOpened
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_contracts.vocabulary import Role, Severity
from shouwang_notify.adapters import inbox, state
from shouwang_notify.adapters.db import worker_transaction
from shouwang_notify.container import Notify
from shouwang_notify.entrypoints import consumers
from shouwang_notify.entrypoints.consumers import decode_case_event
from shouwang_notify.service_layer.planner import AlertPlanner
from shouwang_notify.service_layer.policy import (
    CRITICAL_PRIORITY,
    LOWEST_PRIORITY,
    PRIORITY,
    NotifyPolicy,
)
from test_lanes import POLICY, landing

pytestmark = pytest.mark.integration
BULK = {"min_priority": CRITICAL_PRIORITY + 1, "max_priority": LOWEST_PRIORITY}
URGENT = {"min_priority": CRITICAL_PRIORITY, "max_priority": CRITICAL_PRIORITY}


async def lock_waits(pool: asyncpg.Pool) -> int:
    """The locks sessions of this database wait for now."""
    async with pool.acquire() as conn:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND pid IN"
                " (SELECT pid FROM pg_stat_activity WHERE datname = current_database())"
            )
        )


async def until_blocked_or_done(
    pool: asyncpg.Pool, task: asyncio.Task[Any], waits: int = 1
) -> None:
    """Until `waits` locks are waited for (`task` the last to wait), or `task` ended."""
    deadline = asyncio.get_running_loop().time() + 60
    while not task.done() and await lock_waits(pool) < waits:
        assert asyncio.get_running_loop().time() < deadline, "the planner neither ran nor waited"
        await asyncio.sleep(0.02)


async def neither_failed(*tasks: asyncio.Task[Any]) -> list[Any]:
    """The tasks' results once all ended; none may have raised (a deadlock's victim raises
    `DeadlockDetectedError`)."""
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert not [r for r in results if isinstance(r, BaseException)], results
    return results


@contextlib.asynccontextmanager
async def pausing_after_first_lock(
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[asyncio.Event, asyncio.Event, Callable[[asyncio.Task[Any]], None]]]:
    """The planner chosen by `pause_in` stops right after its first `open_cases_of` (its case
    locks held) until `go_on` is set; `locked` tells it stopped there."""
    real = state.open_cases_of
    locked, go_on = asyncio.Event(), asyncio.Event()
    paused: dict[str, asyncio.Task[Any] | None] = {"task": None}

    async def open_cases_of(
        conn: asyncpg.Connection, students: list[tuple[str, str]]
    ) -> dict[tuple[str, str], state.CaseState]:
        cases = await real(conn, students)
        if asyncio.current_task() is paused["task"] and not locked.is_set():
            locked.set()
            await go_on.wait()
        return cases

    def pause_in(task: asyncio.Task[Any]) -> None:
        paused["task"] = task

    monkeypatch.setattr(state, "open_cases_of", open_cases_of)
    yield locked, go_on, pause_in


async def in_lock_order(pool: asyncpg.Pool, refs: list[str]) -> list[str]:
    """`refs` in the order PostgreSQL sorts (and so locks) them."""
    found = await rows(pool, "SELECT s FROM unnest($1::text[]) AS s ORDER BY s", refs)
    return [r["s"] for r in found]


async def students_in_lock_order(pool: asyncpg.Pool, pseudonyms: Pseudonymizer) -> list[str]:
    """Two students with open cases, in lock order."""
    refs = [await place(pool, pseudonyms, number) for number in ("2024000101", "2024000102")]
    for ref in refs:
        await open_case(pool, ref)
    return await in_lock_order(pool, refs)


async def test_a_bulk_batch_tried_alert_by_alert_never_deadlocks_the_urgent_lane(
    notify_pool: asyncpg.Pool,
    cipher: NoteCipher,
    pseudonyms: Pseudonymizer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A census batch with one alert that cannot be planned is tried alert by alert, in the
    inbox's order: it locked the later student's case, then wanted the earlier one's, while
    the urgent lane (in sorted order) held the earlier and wanted the later: 40P01."""
    await load_samples(notify_pool, cipher, pseudonyms)
    first, second = await students_in_lock_order(notify_pool, pseudonyms)
    # The census batch, in the inbox's order: an alert that cannot be planned, then the later
    # student's, then the earlier student's.
    poison = inbox.Landing(
        "poison-event",
        "shouwang.alert.unknown",
        CAMPUS,
        PRIORITY[Severity.SEVERE],
        b'{"type": "x"}',
    )
    severe = [
        notice(pseudonyms, Severity.SEVERE, student_ref=second),
        notice(pseudonyms, Severity.SEVERE, student_ref=first),
    ]
    critical = [notice(pseudonyms, Severity.CRITICAL, student_ref=ref) for ref in (first, second)]
    landed = [landing(alert) for alert in severe + critical]
    async with worker_transaction(notify_pool) as conn:
        await inbox.land(conn, [poison, *landed[:2]])
        await inbox.land(conn, landed[2:])
    planner = AlertPlanner(notify_pool, cipher, POLICY)

    async with pausing_after_first_lock(monkeypatch) as (locked, go_on, pause_in):
        bulk = asyncio.create_task(planner.plan_once(**BULK, limit=10))
        pause_in(bulk)
        await locked.wait()
        urgent = asyncio.create_task(planner.plan_once(**URGENT, limit=5))
        await until_blocked_or_done(notify_pool, urgent)
        go_on.set()
        results = await neither_failed(bulk, urgent)

    assert results == [3, 2]
    planned = await rows(notify_pool, "SELECT DISTINCT source_event_id FROM deliveries")
    assert {str(r["source_event_id"]) for r in planned} == {a.event_id for a in landed}
    left = await rows(notify_pool, "SELECT event_id, attempts FROM alert_inbox")
    assert [(r["event_id"], r["attempts"]) for r in left] == [("poison-event", 1)]


async def test_two_lanes_open_their_oversight_windows_in_one_order(
    notify_pool: asyncpg.Pool, cipher: NoteCipher, pseudonyms: Pseudonymizer
) -> None:
    """Two college leaders oversee four students. The census batch's students bring the
    leaders in one order, the urgent batch's in the other; each lane's one statement that
    opens (or finds open) the leaders' windows locked them in its batch's order: 40P01."""
    await load_samples(notify_pool, cipher, pseudonyms)
    leaders = await in_lock_order(
        notify_pool, [pseudonyms.person_ref(CAMPUS, code) for code in ("T4001", "T4002")]
    )
    students = await in_lock_order(
        notify_pool, [pseudonyms.student_ref(CAMPUS, f"202400020{n}") for n in range(4)]
    )
    # Bulk: the first two students, leaders in order; urgent: the last two, leaders reversed.
    overseen = dict(zip(students, [*leaders, *reversed(leaders)], strict=True))
    now = datetime.now(UTC)
    async with worker_transaction(notify_pool) as conn:
        for student_ref, leader in overseen.items():
            await conn.execute(
                "INSERT INTO responsible VALUES ($1, $2, 'college_leader', $3)",
                CAMPUS,
                student_ref,
                leader,
            )
        # Each leader's window is open: every notice of the batches waits in it.
        for leader in leaders:
            await conn.execute(
                "INSERT INTO informed_windows (campus_id, person_ref, kind, opened_at)"
                " VALUES ($1, $2, 'informed', $3)",
                CAMPUS,
                leader,
                now,
            )
    alerts = [
        notice(pseudonyms, severity, student_ref=ref, inform=(Role.COLLEGE_LEADER,))
        for severity, ref in zip(
            [Severity.SEVERE] * 2 + [Severity.CRITICAL] * 2, students, strict=True
        )
    ]
    landed = [landing(alert) for alert in alerts]
    async with worker_transaction(notify_pool) as conn:
        await inbox.land(conn, landed)
    planner = AlertPlanner(notify_pool, cipher, POLICY)

    # A third party holds the first leader's window a moment: both lanes queue behind it.
    async with worker_transaction(notify_pool) as holder:
        await holder.execute(
            "SELECT 1 FROM informed_windows WHERE person_ref = $1 FOR UPDATE", leaders[0]
        )
        bulk = asyncio.create_task(planner.plan_once(**BULK, limit=10))
        await until_blocked_or_done(notify_pool, bulk)
        urgent = asyncio.create_task(planner.plan_once(**URGENT, limit=5))
        await until_blocked_or_done(notify_pool, urgent, waits=2)
    results = await neither_failed(bulk, urgent)

    assert results == [2, 2]
    waiting = await rows(
        notify_pool, "SELECT source_event_id FROM bundle_items WHERE kind = 'informed'"
    )
    assert {r["source_event_id"] for r in waiting} == {a.event_id for a in landed}


def reopened(case_id: str, student_ref: str) -> Envelope[Any]:
    """Casework's word on a case notify has (a redelivered opening, as a census sends)."""
    event = CaseOpened(
        case_id=case_id,
        student_ref=student_ref,
        severity=Severity.SEVERE,
        owner_ref=None,
        owner_role=Role.COUNSELING_CENTER,
        opened_at=datetime.now(UTC),
    )
    decoded = decode_case_event(record(event, student_ref))
    assert decoded is not None
    return decoded


async def test_a_slice_of_case_events_never_deadlocks_the_urgent_lane(
    notify: Notify,
    notify_pool: asyncpg.Pool,
    cipher: NoteCipher,
    pseudonyms: Pseudonymizer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The cases consumer applies a slice of events in one transaction: event by event, it
    locked the later student's case, then the earlier one's, while the urgent lane held the
    earlier and wanted the later (40P01, one of them failed)."""
    await load_samples(notify_pool, cipher, pseudonyms)
    first, second = await students_in_lock_order(notify_pool, pseudonyms)
    found = await rows(notify_pool, "SELECT case_id, student_ref FROM cases")
    case_of = {r["student_ref"]: r["case_id"] for r in found}
    critical = [
        landing(notice(pseudonyms, Severity.CRITICAL, student_ref=ref)) for ref in (first, second)
    ]
    async with worker_transaction(notify_pool) as conn:
        await inbox.land(conn, critical)
    planner = AlertPlanner(notify_pool, cipher, POLICY)

    real = consumers.apply_case_event
    applied, go_on = asyncio.Event(), asyncio.Event()

    async def apply_case_event(conn: asyncpg.Connection, *args: Any) -> None:
        await real(conn, *args)
        if not applied.is_set():  # the slice's first event applied: its case is locked
            applied.set()
            await go_on.wait()

    monkeypatch.setattr(consumers, "apply_case_event", apply_case_event)
    slice_ = [reopened(case_of[second], second), reopened(case_of[first], first)]
    consumer = asyncio.create_task(consumers.on_case_events(notify, slice_))
    await applied.wait()
    urgent = asyncio.create_task(planner.plan_once(**URGENT, limit=5))
    await until_blocked_or_done(notify_pool, urgent)
    go_on.set()
    results = await neither_failed(consumer, urgent)

    assert results == [["applied", "applied"], 2]
    planned = await rows(notify_pool, "SELECT DISTINCT source_event_id FROM deliveries")
    assert {str(r["source_event_id"]) for r in planned} == {a.event_id for a in critical}


async def test_two_urgent_planners_open_their_burst_windows_in_one_order(
    notify_pool: asyncpg.Pool, cipher: NoteCipher, pseudonyms: Pseudonymizer
) -> None:
    """Burst windows are per channel: a planner opened them a channel at a time, in the order
    its batch first used each channel. One urgent batch reaches a counselor by WeCom before
    the on-duty line by SMS, the other the counseling center by SMS first: they locked the
    windows crosswise (40P01)."""
    await load_samples(notify_pool, cipher, pseudonyms)
    counselor, center = (pseudonyms.person_ref(CAMPUS, code) for code in ("T1001", "T3001"))
    students = await in_lock_order(
        notify_pool, [pseudonyms.student_ref(CAMPUS, f"202400030{n}") for n in range(4)]
    )
    # Each batch: the first student's owner, then the second's (WeCom, SMS; then SMS, WeCom).
    owners = [
        (Role.RESIDENCE_COUNSELOR, counselor),
        (Role.COUNSELING_CENTER, center),
        (Role.COUNSELING_CENTER, center),
        (Role.RESIDENCE_COUNSELOR, counselor),
    ]
    async with worker_transaction(notify_pool) as conn:
        for student_ref, (role, person_ref) in zip(students, owners, strict=True):
            await conn.execute(
                "INSERT INTO responsible VALUES ($1, $2, $3, $4)",
                CAMPUS,
                student_ref,
                role.value,
                person_ref,
            )
        await conn.execute(
            "INSERT INTO informed_windows (campus_id, person_ref, kind, opened_at)"
            " VALUES ($1, $2, $3, now())",
            CAMPUS,
            counselor,
            f"alerts:wecom:{PRIORITY[Severity.CRITICAL]}",
        )
    alerts = [
        landing(notice(pseudonyms, Severity.CRITICAL, student_ref=ref, owner=role, inform=()))
        for ref, (role, _) in zip(students, owners, strict=True)
    ]
    async with worker_transaction(notify_pool) as conn:
        await inbox.land(conn, alerts[:2])
    bursts = NotifyPolicy(retry=FAST_RETRY, zone=SHANGHAI)
    planner = AlertPlanner(notify_pool, cipher, bursts)

    # A third party holds the counselor's WeCom window: the first batch waits there first.
    async with worker_transaction(notify_pool) as holder:
        await holder.execute(
            "SELECT 1 FROM informed_windows WHERE person_ref = $1 FOR UPDATE", counselor
        )
        one = asyncio.create_task(planner.plan_once(**URGENT, limit=5))
        await until_blocked_or_done(notify_pool, one)
        async with worker_transaction(notify_pool) as conn:
            await inbox.land(conn, alerts[2:])
        other = asyncio.create_task(planner.plan_once(**URGENT, limit=5))
        await until_blocked_or_done(notify_pool, other, waits=2)
    results = await neither_failed(one, other)

    assert results == [2, 2]
    # Each alert went, or waits in its owner's burst.
    planned = await rows(
        notify_pool,
        "SELECT source_event_id FROM deliveries UNION SELECT source_event_id FROM bundle_items",
    )
    assert {str(r["source_event_id"]) for r in planned} == {a.event_id for a in alerts}
