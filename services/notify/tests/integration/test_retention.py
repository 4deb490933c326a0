"""Retention: what only served a delivery ends after the period; nothing waiting is touched.

Rows are seeded as the workers write them, some finished long ago, some recent, some still
waiting; the chore's statement (`adapters.retention.purge_delivery_records`) runs on them as
the runtime role.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from notify_retention_rows import TABLES, left, seed
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events.casework import StudentRouting
from shouwang_notify.adapters.db import worker_transaction
from shouwang_notify.adapters.retention import (
    purge_delivery_records,
    purge_family_contacts_of_leavers,
)
from shouwang_notify.service_layer.cases import apply_directory

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
OLD = NOW - timedelta(days=400)
RECENT = NOW - timedelta(days=10)
KEEP = timedelta(days=365)


async def test_old_delivery_records_end_and_nothing_waiting_or_recent_is_touched(
    notify_pool: asyncpg.Pool,
) -> None:
    async with worker_transaction(notify_pool) as conn:
        await seed(conn, "old-done-1", "sent", OLD)
        await seed(conn, "old-done-2", "failed", OLD - timedelta(days=1))
        await seed(conn, "recent-done", "sent", RECENT)
        await seed(conn, "old-waiting", "pending", OLD)

    # One row per table per statement: the oldest goes first, and a full batch says more.
    async with worker_transaction(notify_pool) as conn:
        first = await purge_delivery_records(conn, NOW - KEEP, batch=1)
        after_first = await left(conn)
    assert first == dict.fromkeys(TABLES, 1)
    assert all("old-done-2" not in keys for keys in after_first.values())
    assert all("old-done-1" in keys for keys in after_first.values())

    async with worker_transaction(notify_pool) as conn:
        second = await purge_delivery_records(conn, NOW - KEEP, batch=500)
        third = await purge_delivery_records(conn, NOW - KEEP, batch=500)
        remaining = await left(conn)
    assert second == {**dict.fromkeys(TABLES, 1), "unreached": 2}
    assert third == dict.fromkeys(TABLES, 0)
    # A delivery still pending, its item not bundled, its link not expired, its case open:
    # all kept however old; the unreached row of that event is as old as the others and goes.
    assert remaining == {
        "deliveries": {"recent-done", "old-waiting"},
        "bundle_items": {"recent-done", "old-waiting"},
        "unreached": {"recent-done"},
        "ack_links": {"recent-done", "old-waiting"},
        "cases": {"recent-done", "old-waiting"},
        "informed_windows": {"recent-done", "old-waiting"},
    }


async def test_family_contacts_end_after_the_student_left_never_with_a_case_open(
    notify_pool: asyncpg.Pool,
) -> None:
    """The directory says who left, and when; their family contacts end after the grace,
    except a student with a case still open. One who came back is forgotten as a leaver."""
    grace = timedelta(days=180)

    def routing(student: str, *, active: bool, at: datetime) -> Envelope[StudentRouting]:
        entry = StudentRouting(student_ref=student, active=active, updated_at=at)
        return Envelope.wrap(entry, source="/shouwang/casework", campus_id="c1", subject=student)

    async with worker_transaction(notify_pool) as conn:
        for student in ("gone", "gone_in_crisis", "just_left", "here", "came_back"):
            await conn.execute(
                "INSERT INTO family_contacts (campus_id, student_ref, rank, relation, sealed,"
                " channels) VALUES ('c1', $1, 1, '母亲', '{}', '{sms}')",
                student,
            )
        await conn.execute(
            "INSERT INTO cases (campus_id, case_id, student_ref, severity)"
            " VALUES ('c1', 'case-open', 'gone_in_crisis', 'severe')"
        )
        long_ago = NOW - timedelta(days=200)
        for envelope in (
            routing("gone", active=False, at=long_ago),
            routing("gone_in_crisis", active=False, at=long_ago),
            routing("just_left", active=False, at=NOW - timedelta(days=10)),
            routing("here", active=True, at=long_ago),
            routing("came_back", active=False, at=long_ago),
            routing("came_back", active=True, at=NOW),
            # A compacted topic replayed says the same later: the first word stands.
            routing("gone", active=False, at=NOW),
        ):
            await apply_directory(conn, envelope)

    async with worker_transaction(notify_pool) as conn:
        erased = await purge_family_contacts_of_leavers(conn, NOW - grace, batch=500)
        again = await purge_family_contacts_of_leavers(conn, NOW - grace, batch=500)
        kept = {r[0] for r in await conn.fetch("SELECT student_ref FROM family_contacts")}

    assert (erased, again) == (1, 0)
    assert kept == {"gone_in_crisis", "just_left", "here", "came_back"}
