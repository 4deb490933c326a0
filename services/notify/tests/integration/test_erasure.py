"""Notify's part of an erasure on request, through its cases consumer on a real PostgreSQL:
the student's family contacts and ended delivery records go, once; what waits, what came
after, another student, and the contacts of a student in a new crisis stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import asyncpg
import pytest
from notify_retention_rows import TABLES, left, seed
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events import CaseClosed, StudentErased
from shouwang_contracts.events.casework import CaseOutcome
from shouwang_contracts.vocabulary import Severity
from shouwang_notify.adapters.db import worker_transaction
from shouwang_notify.entrypoints.consumers import decode_case_event, on_case_events
from shouwang_notify.service_layer.policy import NotifyPolicy

pytestmark = pytest.mark.integration


def erasure(student: str, at: datetime) -> SimpleNamespace:
    envelope = Envelope.wrap(
        StudentErased(student_ref=student, erased_at=at, cases=1),
        source="/shouwang/casework",
        campus_id="c1",
        subject=student,
    )
    return SimpleNamespace(value=envelope.to_bytes(), headers=[])


def closed(case_id: str, student: str, at: datetime) -> SimpleNamespace:
    envelope = Envelope.wrap(
        CaseClosed(
            case_id=case_id,
            student_ref=student,
            outcome=CaseOutcome.STABLE,
            severity=Severity.SEVERE,
            opened_at=at - timedelta(days=1),
            closed_at=at,
        ),
        source="/shouwang/casework",
        campus_id="c1",
        subject=student,
    )
    return SimpleNamespace(value=envelope.to_bytes(), headers=[])


async def family(conn: asyncpg.Connection, student: str, at: datetime, rank: int = 1) -> None:
    await conn.execute(
        "INSERT INTO family_contacts (campus_id, student_ref, rank, relation, sealed, channels,"
        " updated_at) VALUES ('c1', $1, $2, '母亲', '{}', '{sms}', $3)",
        student,
        rank,
        at,
    )


async def test_an_erasure_ends_the_students_contacts_and_ended_records_once(
    notify_pool: asyncpg.Pool, cipher: NoteCipher
) -> None:
    now = datetime.now(UTC)
    before, after = now - timedelta(days=3), now + timedelta(seconds=5)
    async with worker_transaction(notify_pool) as conn:
        await seed(conn, "done", "sent", before)  # stu_1's, each table
        await seed(conn, "waiting", "pending", before)
        await conn.execute("DELETE FROM cases WHERE case_id = 'waiting'")  # erasure: none open
        await family(conn, "stu_1", before)
        # Imported after the erasure (an admin's deliberate act): not the erasure's to end.
        await family(conn, "stu_1", after, rank=2)
        await family(conn, "stu_2", before)
        await family(conn, "stu_3", before)
        await conn.execute(  # stu_3 is in a new crisis: a case opened after the request
            "INSERT INTO cases (campus_id, case_id, student_ref, severity)"
            " VALUES ('c1', 'case-new', 'stu_3', 'critical')"
        )
    notify = SimpleNamespace(
        pool=notify_pool, cipher=cipher, policy=NotifyPolicy(), wake_dispatcher=lambda: None
    )
    records = [erasure("stu_1", now), erasure("stu_3", now)]

    outcomes = await on_case_events(notify, [decode_case_event(r) for r in records])  # type: ignore[arg-type]
    again = await on_case_events(notify, [decode_case_event(r) for r in records])  # type: ignore[arg-type]

    assert (outcomes, again) == (["applied"] * 2, ["duplicate"] * 2)
    async with worker_transaction(notify_pool) as conn:
        remaining = await left(conn)
        contacts = await conn.fetch("SELECT student_ref, rank FROM family_contacts")
    assert {tuple(r) for r in contacts} == {("stu_1", 2), ("stu_2", 1), ("stu_3", 1)}
    # Finished, bundled, expired, closed: gone. Pending, unbundled, live, open: kept.
    # A staff member's window of grouped notices names no student: not the erasure's.
    assert remaining == {t: {"waiting"} for t in TABLES} | {
        "unreached": set(),
        "cases": {"case-new"},
        "informed_windows": {"done", "waiting"},
    }


async def test_an_erasure_deferred_by_an_open_case_completes_when_the_case_closes(
    service_database: Any, cipher: NoteCipher, caplog: pytest.LogCaptureFixture
) -> None:
    """The family contacts kept for a student's open cases go when the last of them closes,
    as of the erasure's time, once; the pending erasure is a row, so a new pool (a restart)
    finds it; another student's open case and contacts are not touched."""
    dsn = await service_database("notify")
    notify_pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    assert notify_pool is not None
    now = datetime.now(UTC)
    before, after = now - timedelta(days=3), now + timedelta(seconds=5)
    async with worker_transaction(notify_pool) as conn:
        await family(conn, "stu_1", before)
        await family(conn, "stu_1", before, rank=2)
        await family(conn, "stu_2", before)
        for case, student in (("case-a", "stu_1"), ("case-b", "stu_1"), ("case-c", "stu_2")):
            await conn.execute(
                "INSERT INTO cases (campus_id, case_id, student_ref, severity)"
                " VALUES ('c1', $1, $2, 'severe')",
                case,
                student,
            )
    notify = SimpleNamespace(
        pool=notify_pool, cipher=cipher, policy=NotifyPolicy(), wake_dispatcher=lambda: None
    )

    async def apply(*records: SimpleNamespace) -> list[str]:
        return await on_case_events(notify, [decode_case_event(r) for r in records])  # type: ignore[arg-type]

    async def state() -> tuple[set[tuple[str, int]], set[str]]:
        async with worker_transaction(notify.pool) as conn:
            contacts = await conn.fetch("SELECT student_ref, rank FROM family_contacts")
            pending = await conn.fetch("SELECT student_ref FROM pending_erasures")
        return {tuple(r) for r in contacts}, {r["student_ref"] for r in pending}  # type: ignore[misc]

    everyone = {("stu_1", 1), ("stu_1", 2), ("stu_2", 1)}
    assert await apply(erasure("stu_1", now), erasure("stu_2", now)) == ["applied"] * 2
    assert await state() == (everyone, {"stu_1", "stu_2"})
    async with worker_transaction(notify.pool) as conn:
        # Imported after the erasure (an admin's deliberate act): not the erasure's to end.
        await family(conn, "stu_1", after, rank=3)

    # One of stu_1's two cases closes: another is still open, the family may still be needed.
    assert await apply(closed("case-a", "stu_1", now)) == ["applied"]
    assert await state() == (everyone | {("stu_1", 3)}, {"stu_1", "stu_2"})

    # A restart: the pending erasure lives in the database, not in a process.
    await notify_pool.close()
    restarted = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    assert restarted is not None
    notify.pool = restarted
    try:
        caplog.set_level("INFO", logger="shouwang.notify.erasure")
        last = closed("case-b", "stu_1", now + timedelta(hours=1))
        assert await apply(last) == ["applied"]
        assert await state() == ({("stu_1", 3), ("stu_2", 1)}, {"stu_2"})
        # Redelivered, or another case of the student closing later: nothing runs again.
        assert await apply(last) == ["duplicate"]
        async with worker_transaction(restarted) as conn:
            await conn.execute(
                "INSERT INTO cases (campus_id, case_id, student_ref, severity)"
                " VALUES ('c1', 'case-d', 'stu_1', 'mild')"
            )
        assert await apply(closed("case-d", "stu_1", now + timedelta(hours=2))) == ["applied"]
        assert await state() == ({("stu_1", 3), ("stu_2", 1)}, {"stu_2"})
    finally:
        await restarted.close()
    completed = [r.getMessage() for r in caplog.records if "completed" in r.getMessage()]
    assert len(completed) == 1
    assert "2 family contacts" in completed[0]
    assert "stu_1" not in caplog.text
