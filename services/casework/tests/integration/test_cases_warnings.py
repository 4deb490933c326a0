"""Ownership and reminders on real PostgreSQL: unowned cases, escalation, missed follow-ups."""

from __future__ import annotations

import asyncio
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from shouwang_casework.adapters.db import campus_transaction
from shouwang_casework.service_layer.care import remind_missed_follow_ups
from shouwang_casework.service_layer.warnings import (
    on_alert_escalated,
    on_alert_raised,
    on_assessment,
)
from shouwang_contracts.vocabulary import Role, Severity

sys.path.insert(0, str(Path(__file__).parent))  # the shared helpers next to this file
from cases_support import (
    CENTER,
    CIPHER,
    PSEUDONYMS,
    SECRET,
    TEACHER,
    escalation,
    import_roster,
    outbox_events,
    token,
    warning,
)

pytestmark = pytest.mark.integration


async def campus_with_a_student_in_an_unstaffed_building(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> tuple[str, str]:
    """The sample roster, plus a student in 9号楼 where no residence counselor works."""
    campus = f"campus-{uuid.uuid4().hex[:8]}"
    await import_roster(client, campus)
    student = PSEUDONYMS.student_ref(campus, "2024990009")
    async with campus_transaction(pool, campus) as conn:
        await conn.execute(
            """
            INSERT INTO students (campus_id, student_ref, student_no, name, college, class_name,
                                  building, floor, room)
            VALUES ($1, $2, '2024990009', '测试学生09', '信息工程学院', '软件2409', '9号楼',
                    '1', '101')
            """,
            campus,
            student,
        )
    return campus, student


async def test_nobody_holds_the_role_then_an_escalation_reassigns(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    campus, student = await campus_with_a_student_in_an_unstaffed_building(client, pool)
    w = warning(campus, student, Severity.MILD, Role.RESIDENCE_COUNSELOR)
    async with campus_transaction(pool, campus) as conn:
        await on_assessment(conn, w.assessment, CIPHER)
        await on_alert_raised(conn, w.alert, CIPHER)

    center = token(SECRET, campus, CENTER, Role.COUNSELING_CENTER)
    unowned = (await client.get("/v1/cases", params={"unowned": "true"}, headers=center)).json()
    assert unowned["total"] == 1
    assert unowned["items"][0]["owner_ref"] is None

    envelope = escalation(
        campus,
        student,
        w.alert.data.alert_id,
        Severity.MILD,
        Role.RESIDENCE_COUNSELOR,
        Role.COMMUNITY_PSYCH_TEACHER,
        within=timedelta(hours=24),
    )
    async with campus_transaction(pool, campus) as conn:
        await on_alert_escalated(conn, envelope, CIPHER)

    item = (await client.get("/v1/cases", headers=center)).json()["items"][0]
    assert item["owner_ref"] == PSEUDONYMS.person_ref(campus, TEACHER)
    assert item["owner_role"] == "community_psych_teacher"
    assigned = [
        e for e in await outbox_events(pool, campus) if e["type"] == "shouwang.case.assigned"
    ]
    assert [a["data"]["owner_ref"] for a in assigned] == [PSEUDONYMS.person_ref(campus, TEACHER)]
    assert assigned[0]["data"]["previous_owner_ref"] is None


async def test_a_missed_follow_up_reminds_once(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    campus, student = await campus_with_a_student_in_an_unstaffed_building(client, pool)
    w = warning(campus, student, Severity.MILD, Role.COMMUNITY_PSYCH_TEACHER)
    async with campus_transaction(pool, campus) as conn:
        await on_assessment(conn, w.assessment, CIPHER)
        await on_alert_raised(conn, w.alert, CIPHER)
    teacher = token(SECRET, campus, TEACHER, Role.COMMUNITY_PSYCH_TEACHER)
    case_id = (await client.get("/v1/cases", headers=teacher)).json()["items"][0]["case_id"]
    due = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    response = await client.post(
        f"/v1/cases/{case_id}/follow-ups", json={"due_at": due}, headers=teacher
    )
    assert response.status_code == 201, response.text
    follow_up_id = response.json()["follow_up_id"]

    async with campus_transaction(pool, campus) as conn:
        assert await remind_missed_follow_ups(conn, CIPHER) == 0  # not due yet
        await conn.execute(
            "UPDATE follow_ups SET due_at = now() - interval '1 hour' WHERE follow_up_id = $1",
            uuid.UUID(follow_up_id),
        )
    for expected in (1, 0):
        async with campus_transaction(pool, campus) as conn:
            assert await remind_missed_follow_ups(conn, CIPHER) == expected

    view = (await client.get(f"/v1/cases/{case_id}", headers=teacher)).json()
    assert view["follow_ups"][0]["missed"] is True
    assert view["follow_ups"][0]["reminded_at"] is not None
    history = (await client.get(f"/v1/cases/{case_id}/history", headers=teacher)).json()
    assert [h["kind"] for h in history].count("follow_up_missed") == 1
    queue = (await client.get("/v1/cases", headers=teacher)).json()["items"][0]
    assert queue["missed_follow_ups"] == 1

    # Moving it re-arms the one reminder; closing it by hand keeps who, when and why.
    moved = await client.patch(
        f"/v1/cases/{case_id}/follow-ups/{follow_up_id}",
        json={"due_at": (datetime.now(UTC) + timedelta(days=2)).isoformat()},
        headers=teacher,
    )
    assert moved.json()["reminded_at"] is None
    closed = await client.patch(
        f"/v1/cases/{case_id}/follow-ups/{follow_up_id}",
        json={"close_as": "cancelled", "reason": "学生已休学离校"},
        headers=teacher,
    )
    body = closed.json()
    assert (body["status"], body["closed_by_ref"]) == (
        "cancelled",
        PSEUDONYMS.person_ref(campus, TEACHER),
    )


async def test_concurrent_warnings_open_one_case_and_the_index_refuses_a_second(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    campus, student = await campus_with_a_student_in_an_unstaffed_building(client, pool)
    warnings = [
        warning(campus, student, Severity.MODERATE, Role.COUNSELING_CENTER) for _ in range(3)
    ]

    async def apply(envelope: Any, handler: Any) -> None:
        async with campus_transaction(pool, campus) as conn:
            await handler(conn, envelope, CIPHER)

    # Assessments and alerts come from two consumers at once; the student lock serialises them.
    await asyncio.gather(
        *(apply(w.assessment, on_assessment) for w in warnings),
        *(apply(w.alert, on_alert_raised) for w in warnings),
    )
    async with campus_transaction(pool, campus) as conn:
        assert await conn.fetchval("SELECT count(*) FROM cases") == 1
        assert await conn.fetchval("SELECT count(*) FROM alerts") == 3
        row = await conn.fetchrow("SELECT * FROM cases")
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute(
                """
                INSERT INTO cases (case_id, campus_id, student_ref, state, severity,
                                   severity_rank, owner_role, opened_at, updated_at)
                VALUES ($1, $2, $3, 'open', 'mild', 1, 'residence_counselor', now(), now())
                """,
                uuid.uuid4(),
                campus,
                row["student_ref"],
            )
