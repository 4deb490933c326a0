"""Rows of the tables that only serve a delivery, seeded as the workers write them (the
retention chore's and the erasure's tests)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

NOW = datetime.now(UTC)


async def seed(conn: asyncpg.Connection, tag: str, status: str, at: datetime) -> None:
    """One row of each table, ended (or, for `pending`, still waiting) at `at`."""
    finished = None if status == "pending" else at
    await conn.execute(
        """
        INSERT INTO deliveries (notification_id, campus_id, source_event_id, source_event_type,
                                source_time, alert_id, student_ref, recipient_kind,
                                recipient_ref, channel, template, language, context, priority,
                                status, not_before, created_at, finished_at)
        VALUES ($1, 'c1', $2, 'alert.raised', $3, $2, 'stu_1', 'family', 'stu_1#1', 'sms',
                'alert', 'zh-CN', '{}', 0, $4, $3, $3, $5)
        """,
        uuid.uuid4(), tag, at, status, finished,
    )  # fmt: skip
    await conn.execute(
        """
        INSERT INTO bundle_items (campus_id, person_ref, role, kind, item, source_event_id,
                                  student_ref, source_time, due_at, bundled_at)
        VALUES ('c1', 'per_1', 'residence_counselor', 'digest', $1::jsonb, $2, 'stu_1', $3,
                $3, $4)
        """,
        json.dumps({"tag": tag}), tag, at, finished,
    )  # fmt: skip
    await conn.execute(
        """
        INSERT INTO unreached (campus_id, source_event_id, student_ref, recipient_kind, reason,
                               created_at)
        VALUES ('c1', $1, 'stu_1', 'family', 'no_contact', $2)
        """,
        tag, at,
    )  # fmt: skip
    # A link of an alert still waiting expires ahead; one of an old alert expired then.
    expires = NOW + timedelta(days=1) if status == "pending" else at
    await conn.execute(
        """
        INSERT INTO ack_links (link_id, campus_id, alert_id, student_ref, person_ref, role,
                               severity, ack_deadline, short_code, expires_at, created_at)
        VALUES ($1, 'c1', $2, 'stu_1', 'per_1', 'residence_counselor', 'severe', $3, $4,
                $3, $3)
        """,
        uuid.uuid4(), tag, expires, uuid.uuid4().hex[:8],
    )  # fmt: skip
    # A person's window of grouped notices opened then (one still open: just now).
    await conn.execute(
        "INSERT INTO informed_windows (campus_id, person_ref, opened_at) VALUES ('c1', $1, $2)",
        tag,
        NOW if status == "pending" else at,
    )
    await conn.execute(
        """
        INSERT INTO cases (campus_id, case_id, student_ref, severity, closed_at, consent)
        VALUES ('c1', $1, 'stu_1', 'severe', $2, 'given')
        """,
        tag, finished,
    )  # fmt: skip


TABLES = ("deliveries", "bundle_items", "unreached", "ack_links", "cases", "informed_windows")


async def left(conn: asyncpg.Connection) -> dict[str, set[str]]:
    keys = {
        "deliveries": "source_event_id",
        "bundle_items": "source_event_id",
        "unreached": "source_event_id",
        "ack_links": "alert_id",
        "cases": "case_id",
        "informed_windows": "person_ref",
    }
    return {
        t: {r[0] for r in await conn.fetch(f"SELECT {keys[t]} FROM {t}")}  # noqa: S608
        for t in TABLES
    }
