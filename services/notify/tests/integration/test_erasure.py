"""Notify's part of an erasure on request, through its cases consumer on a real PostgreSQL:
the student's family contacts and ended delivery records go, once; what waits, what came
after, another student, and the contacts of a student in a new crisis stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import asyncpg
import pytest
from notify_retention_rows import TABLES, left, seed
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events import StudentErased
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
