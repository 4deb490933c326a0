"""Who may read what, row by row of the need-to-know matrix (casework's README), on real
PostgreSQL: scope from the role the token carries, free text only for those who need it,
refusals audited even though the refused request rolls back, break-the-glass kept rare,
sealed and told to the counseling center."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest
from shouwang_casework.adapters.db import campus_transaction
from shouwang_contracts.vocabulary import Role, Severity

sys.path.insert(0, str(Path(__file__).parent))  # the shared helpers next to this file
from cases_support import (
    CENTER,
    COUNSELOR_7,
    COUNSELOR_8,
    PSEUDONYMS,
    SECRET,
    STUDENT_NO,
    deliver,
    import_roster,
    outbox_events,
    refused,
    token,
    warning,
)

pytestmark = pytest.mark.integration

NOTE = "谈话中她提到最近常想到死，已约定明天再谈"
PLAN_TEXT = "每周二下午谈心，联系辅导员了解课堂情况"
ACTION_TAKEN = "当面谈话一小时，确认安全，已告知心理中心"
# A person who holds two roles: community psychology teacher of 7号楼, and college leader of
# 信息工程学院, the college of the sample student (8号楼).
TWO_ROLES = "T5001"
LEADER = "T4002"  # college leader of 信息工程学院 only
EXTRA_STAFF = (
    "工号/学号,姓名,角色,范围类型,范围\n"
    f"{TWO_ROLES},测试双重角色,社区心理教师,楼栋,7号楼\n"
    f"{TWO_ROLES},测试双重角色,二级学院领导,学院,信息工程学院\n"
    f"{LEADER},测试院领导乙,二级学院领导,学院,信息工程学院\n"
)


async def _campus_with_a_worked_case(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> tuple[str, str, str, str]:
    """A campus, its student, an open case owned by the 8号楼 counselor with a note, a plan
    and an intervention recorded in free text; and the case's unacknowledged alert."""
    campus = f"campus-{uuid.uuid4().hex[:8]}"
    await import_roster(client, campus)
    extra = await client.post(
        "/v1/roster/staff",
        params={"mode": "upsert"},
        files={"file": ("staff.csv", EXTRA_STAFF.encode(), "text/csv")},
        headers=token(SECRET, campus, "A001", Role.CAMPUS_ADMIN),
    )
    assert extra.status_code == 200, extra.text
    student = PSEUDONYMS.student_ref(campus, STUDENT_NO)
    w = warning(campus, student, Severity.SEVERE, Role.RESIDENCE_COUNSELOR)
    await deliver(pool, campus, w)
    owner = token(SECRET, campus, COUNSELOR_8, Role.RESIDENCE_COUNSELOR)
    case_id = (await client.get("/v1/cases", headers=owner)).json()["items"][0]["case_id"]
    for method, url, body in (
        ("POST", f"/v1/cases/{case_id}/notes", {"text": NOTE}),
        (
            "PUT",
            f"/v1/cases/{case_id}/plan",
            {
                "expected_version": 0,
                "actions": [{"action_id": "a1", "kind": "talk", "description": PLAN_TEXT}],
            },
        ),
        (
            "POST",
            f"/v1/cases/{case_id}/transitions",
            {"to_state": "intervention", "action_taken": ACTION_TAKEN},
        ),
    ):
        done = await client.request(method, url, json=body, headers=owner)
        assert done.status_code in (200, 201), done.text
    return campus, student, case_id, w.alert.data.alert_id


async def _audit(pool: asyncpg.Pool, campus_id: str) -> list[tuple[str, str, str | None]]:
    async with campus_transaction(pool, campus_id) as conn:
        rows = await conn.fetch("SELECT principal_ref, action, reason FROM audit_log ORDER BY id")
    return [(r[0], r[1], r[2]) for r in rows]


async def test_a_person_with_two_roles_acts_only_with_the_scope_of_the_role_in_their_token(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    """A 7号楼 psychology teacher who also leads the student's college must not work or
    acknowledge that college's cases as a teacher (the college-leader assignment is not a
    teacher's scope)."""
    campus, _student, case_id, alert_id = await _campus_with_a_worked_case(client, pool)
    as_teacher = token(SECRET, campus, TWO_ROLES, Role.COMMUNITY_PSYCH_TEACHER)
    ack = await client.post(f"/v1/alerts/{alert_id}/acknowledgement", headers=as_teacher)
    refused(ack, 403, "acknowledge_forbidden")
    move = await client.post(
        f"/v1/cases/{case_id}/transitions",
        json={"to_state": "monitoring", "reason": "以社区心理教师身份调整"},
        headers=as_teacher,
    )
    assert move.status_code == 403, move.text
    notes = await client.get(f"/v1/cases/{case_id}/notes", headers=as_teacher)
    assert notes.status_code == 403
    # As college leader (the other role) the same person sees the case's facts.
    as_leader = token(SECRET, campus, TWO_ROLES, Role.COLLEGE_LEADER)
    assert (await client.get(f"/v1/cases/{case_id}", headers=as_leader)).status_code == 200


async def test_the_need_to_know_matrix_row_by_row(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    campus, student, case_id, _ = await _campus_with_a_worked_case(client, pool)

    def who(sub: str, role: Role) -> dict[str, str]:
        return token(SECRET, campus, sub, role)

    full_readers = {
        "counseling center": who(CENTER, Role.COUNSELING_CENTER),
        "counselor in scope (the owner)": who(COUNSELOR_8, Role.RESIDENCE_COUNSELOR),
    }
    for row, headers in full_readers.items():
        history = (await client.get(f"/v1/cases/{case_id}/history", headers=headers)).json()
        assert ACTION_TAKEN in [e["text"] for e in history], row
        notes = (await client.get(f"/v1/cases/{case_id}/notes", headers=headers)).json()
        assert [n["text"] for n in notes] == [NOTE], row
        plan = (await client.get(f"/v1/cases/{case_id}/plan", headers=headers)).json()
        assert plan["actions"][0]["description"] == PLAN_TEXT, row
        file = (await client.get(f"/v1/students/{student}/file", headers=headers)).json()
        assert file["access"]["free_text"] is True, row
        assert NOTE in json.dumps(file, ensure_ascii=False), row

    # College leader of the student's college: structured facts, no free text anywhere.
    leader = who(LEADER, Role.COLLEGE_LEADER)
    case = await client.get(f"/v1/cases/{case_id}", headers=leader)
    assert case.status_code == 200
    assert (case.json()["severity"], case.json()["state"]) == ("severe", "intervention")
    history = (await client.get(f"/v1/cases/{case_id}/history", headers=leader)).json()
    assert history  # every entry, its facts
    assert all(e["text"] is None for e in history)
    refused(
        await client.get(f"/v1/cases/{case_id}/notes", headers=leader),
        403,
        "free_text_need_to_know",
    )
    plan = (await client.get(f"/v1/cases/{case_id}/plan", headers=leader)).json()
    assert plan["actions"][0]["kind"] == "talk"
    assert plan["actions"][0]["description"] is None
    file = (await client.get(f"/v1/students/{student}/file", headers=leader)).json()
    assert file["access"]["free_text"] is False
    dumped = json.dumps(file, ensure_ascii=False)
    for text in (NOTE, PLAN_TEXT, ACTION_TAKEN):
        assert text not in dumped
    assert (
        '"text_withheld": true' in dumped
        or '"sealed_withheld": true' in dumped
        or ("_withheld" in dumped)
    )

    # A counselor of another building, a college leader of another college: nothing.
    for headers in (who(COUNSELOR_7, Role.RESIDENCE_COUNSELOR), who("T4001", Role.COLLEGE_LEADER)):
        assert (await client.get(f"/v1/cases/{case_id}", headers=headers)).status_code == 403
        assert (await client.get(f"/v1/cases/{case_id}/notes", headers=headers)).status_code == 403

    # Campus admins manage rosters and contacts; auditors read the audit log; platform admins
    # see figures; students report. None of them reads a case, its queue or a file.
    for sub, role in (
        ("A001", Role.CAMPUS_ADMIN),
        ("AU01", Role.AUDITOR),
        ("P001", Role.PLATFORM_ADMIN),
        (STUDENT_NO, Role.DORM_LEADER),
    ):
        headers = who(sub, role)
        for url in (
            "/v1/cases",
            f"/v1/cases/{case_id}",
            f"/v1/cases/{case_id}/history",
            f"/v1/cases/{case_id}/notes",
            f"/v1/cases/{case_id}/plan",
            f"/v1/students/{student}/file",
        ):
            answer = await client.get(url, headers=headers)
            assert answer.status_code == 403, (role, url, answer.text)


async def test_a_refused_read_is_audited_although_the_request_rolls_back(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    campus, _student, case_id, _ = await _campus_with_a_worked_case(client, pool)
    stranger = token(SECRET, campus, COUNSELOR_7, Role.RESIDENCE_COUNSELOR)
    for url in (f"/v1/cases/{case_id}", f"/v1/cases/{case_id}/notes"):
        assert (await client.get(url, headers=stranger)).status_code == 403
    stranger_ref = PSEUDONYMS.person_ref(campus, COUNSELOR_7)
    refusals = [(a, r) for who, a, r in await _audit(pool, campus) if who == stranger_ref]
    assert refusals == [
        ("case.read.refused", "out_of_scope"),
        ("case.notes.read.refused", "out_of_scope"),
    ]


async def test_an_acknowledged_alert_is_not_shown_to_someone_outside_its_scope(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    campus, _student, _case_id, alert_id = await _campus_with_a_worked_case(client, pool)
    owner = token(SECRET, campus, COUNSELOR_8, Role.RESIDENCE_COUNSELOR)
    ack = await client.post(f"/v1/alerts/{alert_id}/acknowledgement", headers=owner)
    assert ack.status_code == 200, ack.text
    stranger = token(SECRET, campus, COUNSELOR_7, Role.RESIDENCE_COUNSELOR)
    peek = await client.post(f"/v1/alerts/{alert_id}/acknowledgement", headers=stranger)
    body = refused(peek, 403, "acknowledge_forbidden")
    assert PSEUDONYMS.person_ref(campus, COUNSELOR_8) not in json.dumps(body)


async def test_break_the_glass_is_rare_sealed_and_told_to_the_counseling_center(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    campus, student, _case_id, _ = await _campus_with_a_worked_case(client, pool)
    other = token(SECRET, campus, COUNSELOR_7, Role.RESIDENCE_COUNSELOR)
    url = f"/v1/students/{student}/break-glass"
    short = await client.post(url, json={"reason": "紧急，需要查看"}, headers=other)
    assert short.status_code == 422  # a reason of some length
    reason = "夜间值班接到室友电话，学生失联，需要查看既往记录以便联系"
    granted = [await client.post(url, json={"reason": reason}, headers=other) for _ in range(4)]
    assert [g.status_code for g in granted] == [201, 201, 201, 429]
    assert granted[-1].json()["code"] == "break_glass_daily_cap"
    grant = granted[0].json()
    assert grant["reason"] == reason  # opened for the reader

    # Sealed at rest, and not repeated in the audit log.
    async with campus_transaction(pool, campus) as conn:
        stored = await conn.fetchrow(
            "SELECT reason, sealed_reason::text AS sealed FROM break_glass_grants WHERE id = $1",
            uuid.UUID(grant["id"]),
        )
        audit_text = await conn.fetchval(
            "SELECT string_agg(coalesce(reason, ''), '|') FROM audit_log"
        )
    assert stored["reason"] is None
    assert reason not in stored["sealed"]
    assert reason not in audit_text

    # The counseling center hears of it at once: a structured event, no reason text.
    opened = [
        e for e in await outbox_events(pool, campus) if e["type"] == "shouwang.break_glass.opened"
    ]
    assert len(opened) == 3
    assert opened[0]["data"]["grant_id"] == grant["id"]
    assert opened[0]["data"]["person_ref"] == PSEUDONYMS.person_ref(campus, COUNSELOR_7)
    assert reason not in json.dumps(opened, ensure_ascii=False)

    center = token(SECRET, campus, CENTER, Role.COUNSELING_CENTER)
    note = "学生当晚确实失联，查看合理"
    review = await client.post(
        f"/v1/audit/break-glass/{grant['id']}/review",
        json={"outcome": "justified", "note": note},
        headers=center,
    )
    assert review.status_code == 200, review.text
    assert review.json()["review_note"] == note
    async with campus_transaction(pool, campus) as conn:
        row = await conn.fetchrow(
            "SELECT review_note, sealed_review_note::text AS sealed FROM break_glass_grants "
            "WHERE id = $1",
            uuid.UUID(grant["id"]),
        )
    assert row["review_note"] is None
    assert note not in row["sealed"]
