"""The student picker and queue names on real PostgreSQL: each caller finds only the students
of their own scope, by number or name, and every lookup is audited."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest
from shouwang_contracts.auth import mint_token
from shouwang_contracts.vocabulary import Role

sys.path.insert(0, str(Path(__file__).parent))  # the shared helpers next to this file
from cases_support import PSEUDONYMS, SECRET, import_roster

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def campus(client: httpx.AsyncClient) -> tuple[httpx.AsyncClient, str]:
    """A campus of its own with the sample rosters, on casework's real app (conftest)."""
    campus_id = f"campus-{uuid.uuid4().hex[:8]}"
    await import_roster(client, campus_id)
    return client, campus_id


def as_(campus_id: str, sub: str, role: Role) -> dict[str, str]:
    return {
        "Authorization": "Bearer " + mint_token(SECRET, sub=sub, role=role, campus_id=campus_id)
    }


async def test_a_dorm_leader_finds_their_roommates_never_themself(
    campus: tuple[httpx.AsyncClient, str], pool: asyncpg.Pool
) -> None:
    client, campus_id = campus
    dorm = as_(campus_id, "2024020001", Role.DORM_LEADER)  # 8号楼 room 202 in the samples
    found = await client.get("/v1/students/lookup", headers=dorm)
    assert found.status_code == 200, found.text
    numbers = {s["student_no"] for s in found.json()["items"]}
    assert numbers == {"2024020031"}  # their roommate, never the dorm leader themself
    myself = await client.get("/v1/students/lookup", params={"q": "2024020001"}, headers=dorm)
    assert myself.json()["items"] == []
    by_name = await client.get("/v1/students/lookup", params={"q": "学生31"}, headers=dorm)
    assert [s["student_no"] for s in by_name.json()["items"]] == ["2024020031"]
    assert by_name.json()["items"][0]["room"] == "202"
    # Someone in another room is not found by name, nor by number.
    for q in ("测试学生02", "2024030002"):
        outside = await client.get("/v1/students/lookup", params={"q": q}, headers=dorm)
        assert outside.json()["items"] == []
    async with pool.acquire() as conn:
        await conn.execute("SELECT set_config('shouwang.campus_id', $1, false)", campus_id)
        logged = await conn.fetchval(
            "SELECT count(*) FROM audit_log WHERE action = 'roster.pick' AND campus_id = $1",
            campus_id,
        )
    assert logged == 5


async def test_a_floor_leader_finds_their_floor_and_a_wildcard_is_literal(
    campus: tuple[httpx.AsyncClient, str],
) -> None:
    client, campus_id = campus
    floor = as_(campus_id, "2024030002", Role.FLOOR_LEADER)  # 7号楼, 3rd floor
    found = await client.get("/v1/students/lookup", headers=floor)
    assert found.status_code == 200
    assert {s["building"] for s in found.json()["items"]} == {"7号楼"}
    assert {s["room"][0] for s in found.json()["items"]} == {"3"}
    wildcard = await client.get("/v1/students/lookup", params={"q": "%"}, headers=floor)
    assert wildcard.json()["items"] == []


async def test_the_counseling_center_must_type_before_listing_a_campus(
    campus: tuple[httpx.AsyncClient, str],
) -> None:
    client, campus_id = campus
    center = as_(campus_id, "T3001", Role.COUNSELING_CENTER)
    refused = await client.get("/v1/students/lookup", params={"q": "2"}, headers=center)
    assert refused.status_code == 422
    assert refused.json()["code"] == "query_too_short"
    assert refused.json()["detail"] == "请至少输入学号或姓名中的两个字"
    found = await client.get("/v1/students/lookup", params={"q": "202401000"}, headers=center)
    assert {s["student_no"] for s in found.json()["items"]} == {
        "2024010003",
        "2024010006",
        "2024010009",
    }


async def test_auditors_and_admins_do_not_pick_students(
    campus: tuple[httpx.AsyncClient, str],
) -> None:
    client, campus_id = campus
    for role in (Role.AUDITOR, Role.CAMPUS_ADMIN, Role.PLATFORM_ADMIN):
        refused = await client.get(
            "/v1/students/lookup", params={"q": "2024"}, headers=as_(campus_id, "X1", role)
        )
        assert refused.status_code == 403
        assert refused.json()["code"] == "role_cannot_report"


async def test_staff_read_names_behind_pseudonyms_only_in_scope(
    campus: tuple[httpx.AsyncClient, str],
) -> None:
    client, campus_id = campus
    in_8 = PSEUDONYMS.student_ref(campus_id, "2024020001")  # 8号楼
    in_7 = PSEUDONYMS.student_ref(campus_id, "2024030002")  # 7号楼
    counselor = as_(campus_id, "T1002", Role.RESIDENCE_COUNSELOR)  # holds 8号楼
    cards = await client.get(
        "/v1/students/cards", params=[("ref", in_8), ("ref", in_7)], headers=counselor
    )
    assert cards.status_code == 200, cards.text
    assert [(c["student_ref"], c["name"]) for c in cards.json()["items"]] == [(in_8, "测试学生01")]
    student = await client.get(
        "/v1/students/cards",
        params={"ref": in_8},
        headers=as_(campus_id, "2024020001", Role.DORM_LEADER),
    )
    assert student.status_code == 403


async def test_a_campus_wide_reader_cannot_walk_the_roster_through_the_picker_unrecorded(
    campus: tuple[httpx.AsyncClient, str], pool: asyncpg.Pool
) -> None:
    """The picker answers what a queue's names do (学号, name, college, class, room), so a
    reader typing number prefixes could list a whole campus with a trail naming nobody, where
    the names behind a queue are recorded per student. Each student the picker shows is in
    the audit log (a listing read, once per window), the search itself as before."""
    client, campus_id = campus
    center_ref = PSEUDONYMS.person_ref(campus_id, "T3901")  # this test's reader alone
    center = as_(campus_id, "T3901", Role.COUNSELING_CENTER)
    for q in ("2024010", "202401000"):  # the second shows three of the first again
        found = await client.get("/v1/students/lookup", params={"q": q}, headers=center)
        assert found.status_code == 200, found.text
    shown = {s["student_ref"] for s in found.json()["items"]}
    async with pool.acquire() as conn:
        await conn.execute("SELECT set_config('shouwang.campus_id', $1, false)", campus_id)
        rows = await conn.fetch(
            "SELECT student_ref, action FROM audit_log"
            " WHERE campus_id = $1 AND principal_ref = $2 AND role = 'counseling_center'"
            "   AND action IN ('roster.pick', 'student.pick.read')",
            campus_id,
            center_ref,
        )
    named = [r["student_ref"] for r in rows if r["action"] == "student.pick.read"]
    assert shown <= set(named)
    assert len(named) == len(set(named))  # shown twice within the window: recorded once
    assert sum(r["action"] == "roster.pick" for r in rows) == 2
