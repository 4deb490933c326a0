"""Who may not move a case, and what they are told, over HTTP on real PostgreSQL: staff out of
scope, students and other campuses refused; refusals in zh-CN unless English comes first; two
staff moving one case at once (one wins, the other is asked to refresh). The loop itself and
every guard it passes: test_loop_http.py.
"""

from __future__ import annotations

import asyncio
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
    TEACHER,
    deliver,
    import_roster,
    in_both_languages,
    refused,
    token,
    warning,
)

pytestmark = pytest.mark.integration


async def test_out_of_scope_staff_students_and_other_campuses_are_refused(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    campus = f"campus-{uuid.uuid4().hex[:8]}"
    other_campus = f"campus-{uuid.uuid4().hex[:8]}"
    await import_roster(client, campus)
    student = PSEUDONYMS.student_ref(campus, STUDENT_NO)
    await deliver(pool, campus, warning(campus, student, Severity.MILD, Role.RESIDENCE_COUNSELOR))
    center = token(SECRET, campus, CENTER, Role.COUNSELING_CENTER)
    case_id = (await client.get("/v1/cases", headers=center)).json()["items"][0]["case_id"]

    # A tier-4 counselor of another building: empty queue, no case, no move.
    other_building = token(SECRET, campus, COUNSELOR_7, Role.RESIDENCE_COUNSELOR)
    assert (await client.get("/v1/cases", headers=other_building)).json()["total"] == 0
    refused(await client.get(f"/v1/cases/{case_id}", headers=other_building), 403, "out_of_scope")
    refused(
        await client.post(
            f"/v1/cases/{case_id}/transitions",
            json={"to_state": "monitoring"},
            headers=other_building,
        ),
        403,
        "transition_forbidden",
    )
    # Scope is the roster's assignments ∪ the token's grants: a counselor the roster does not
    # know yet, holding building:8号楼 in the token, sees the case.
    newcomer = token(SECRET, campus, "T9999", Role.RESIDENCE_COUNSELOR, scope=["building:8号楼"])
    assert (await client.get(f"/v1/cases/{case_id}", headers=newcomer)).status_code == 200
    # A student (the room leader, even about a roommate) sees no case data at all.
    student_token = token(SECRET, campus, STUDENT_NO, Role.DORM_LEADER, scope=["room:8号楼/202"])
    refused(
        await client.get("/v1/cases", headers=student_token), 403, "students_have_no_case_access"
    )
    refused(
        await client.get(f"/v1/cases/{case_id}", headers=student_token),
        403,
        "students_have_no_case_access",
    )
    # Another campus's counseling center: the case does not exist for them.
    foreign = token(SECRET, other_campus, CENTER, Role.COUNSELING_CENTER)
    refused(await client.get(f"/v1/cases/{case_id}", headers=foreign), 404, "case_not_found")
    assert (await client.get("/v1/cases", headers=foreign)).json()["total"] == 0
    # Bad input is a clear 422, never a 500.
    response = await client.post(
        f"/v1/cases/{case_id}/transitions", json={"to_state": "nowhere"}, headers=center
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "to_state"
    refused(await client.get("/v1/cases/not-a-uuid", headers=center), 404, "case_not_found")

    # Row-level security, straight in SQL as the casework role.
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM cases") == 0  # no campus set
    async with campus_transaction(pool, other_campus) as conn:
        assert await conn.fetchval("SELECT count(*) FROM cases") == 0
        assert await conn.fetchval("SELECT count(*) FROM case_history") == 0
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(
                "INSERT INTO processed_events (consumer, event_id, campus_id) VALUES ('x', 'y', $1)",
                campus,
            )
    async with campus_transaction(pool, campus) as conn:
        assert await conn.fetchval("SELECT count(*) FROM cases") == 1


async def test_staff_out_of_scope_cannot_learn_a_cases_version(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    """A counselor of another building holding a case's id is refused a move the same way
    whatever `expected_version` they send: a 409 for a stale one would tell them, out of
    scope, how far the case has moved since (and it was no refusal at all)."""
    campus = f"campus-{uuid.uuid4().hex[:8]}"
    await import_roster(client, campus)
    student = PSEUDONYMS.student_ref(campus, STUDENT_NO)
    await deliver(pool, campus, warning(campus, student, Severity.MILD, Role.RESIDENCE_COUNSELOR))
    center = token(SECRET, campus, CENTER, Role.COUNSELING_CENTER)
    case = (await client.get("/v1/cases", headers=center)).json()["items"][0]
    other_building = token(SECRET, campus, COUNSELOR_7, Role.RESIDENCE_COUNSELOR)
    for version in (case["version"], case["version"] + 1, case["version"] + 7):
        refused(
            await client.post(
                f"/v1/cases/{case['case_id']}/transitions",
                json={"to_state": "monitoring", "expected_version": version},
                headers=other_building,
            ),
            403,
            "transition_forbidden",
        )


async def test_case_refusals_are_chinese_unless_english_comes_first(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    campus = f"campus-{uuid.uuid4().hex[:8]}"
    await import_roster(client, campus)
    student = PSEUDONYMS.student_ref(campus, STUDENT_NO)
    await deliver(pool, campus, warning(campus, student, Severity.MILD, Role.RESIDENCE_COUNSELOR))
    counselor = token(SECRET, campus, COUNSELOR_8, Role.RESIDENCE_COUNSELOR)
    case_id = (await client.get("/v1/cases", headers=counselor)).json()["items"][0]["case_id"]

    # 403 naming the caller's role: its Chinese label by default, its id in English.
    auditor = token(SECRET, campus, "AU01", Role.AUDITOR)
    chinese, english = await in_both_languages(
        client, "GET", "/v1/cases", auditor, 403, "role_has_no_case_access"
    )
    assert Role.AUDITOR.label() in chinese["detail"]
    assert "auditor" in english["detail"]
    # 403 out of scope, 404 no such case.
    other_building = token(SECRET, campus, COUNSELOR_7, Role.RESIDENCE_COUNSELOR)
    chinese, _ = await in_both_languages(
        client, "GET", f"/v1/cases/{case_id}", other_building, 403, "out_of_scope"
    )
    assert chinese["detail"] == "该学生不在您的负责范围内"
    chinese, english = await in_both_languages(
        client, "GET", f"/v1/cases/{uuid.uuid4()}", counselor, 404, "case_not_found"
    )
    assert (chinese["detail"], english["detail"]) == ("未找到该个案", "no such case")
    # 422 naming its field: the field's message follows the language too.
    chinese, english = await in_both_languages(
        client,
        "POST",
        f"/v1/cases/{case_id}/transitions",
        counselor,
        422,
        "action_taken_required",
        json={"to_state": "intervention"},
    )
    assert chinese["detail"] == "进入干预需记录已采取的措施"
    assert chinese["errors"] == [{"field": "action_taken", "message": "未填写"}]
    assert english["errors"] == [{"field": "action_taken", "message": "missing"}]
    # 409 naming versions: in Chinese too.
    chinese, english = await in_both_languages(
        client,
        "PUT",
        f"/v1/cases/{case_id}/plan",
        counselor,
        409,
        "plan_version_conflict",
        json={"expected_version": 3, "actions": [], "review_dates": []},
    )
    assert chinese["detail"] == (
        "帮扶计划已被他人更新（现为第 0 版，您是在第 3 版上修改的），请刷新后重试"
    )
    assert english["detail"] == "the plan is at version 0, not 3"


async def test_two_staff_moving_the_same_case_at_once_one_wins_the_other_is_told_to_refresh(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    """The counselor and the psychology teacher both act on version 1 at the same moment:
    one step lands, the other is a 409 in zh-CN asking to refresh (never two steps on one
    version, never a 500), and the history holds the one step."""
    campus = f"campus-{uuid.uuid4().hex[:8]}"
    await import_roster(client, campus)
    student = PSEUDONYMS.student_ref(campus, STUDENT_NO)
    counselor = token(SECRET, campus, COUNSELOR_8, Role.RESIDENCE_COUNSELOR)
    teacher = token(SECRET, campus, TEACHER, Role.COMMUNITY_PSYCH_TEACHER)
    await deliver(
        pool, campus, warning(campus, student, Severity.MODERATE, Role.RESIDENCE_COUNSELOR)
    )
    case = (await client.get("/v1/cases", headers=counselor)).json()["items"][0]
    url = f"/v1/cases/{case['case_id']}/transitions"
    steps = {
        "monitoring": ({"to_state": "monitoring", "expected_version": case["version"]}, counselor),
        "intervention": (
            {
                "to_state": "intervention",
                "action_taken": "当面谈心",
                "expected_version": case["version"],
            },
            teacher,
        ),
    }

    answers = dict(
        zip(
            steps,
            await asyncio.gather(
                *(client.post(url, json=body, headers=who) for body, who in steps.values())
            ),
            strict=True,
        )
    )

    assert sorted(a.status_code for a in answers.values()) == [200, 409], {
        k: a.text for k, a in answers.items()
    }
    (won,) = [state for state, a in answers.items() if a.status_code == 200]
    (lost,) = [a for a in answers.values() if a.status_code == 409]
    assert lost.headers["content-type"].startswith("application/problem+json")
    assert lost.json()["code"] in {"version_conflict", "conflict"}
    assert "请刷新后重试" in lost.json()["detail"]
    after = (await client.get(f"/v1/cases/{case['case_id']}", headers=counselor)).json()
    assert (after["state"], after["version"]) == (won, case["version"] + 1)
    history = (await client.get(f"/v1/cases/{case['case_id']}/history", headers=counselor)).json()
    moves = [(h["from_state"], h["to_state"]) for h in history if h["kind"] == "transitioned"]
    assert moves == [("open", won)]
