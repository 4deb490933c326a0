"""The student file on real PostgreSQL: who may read it, break-the-glass, and the audit log."""

from __future__ import annotations

import json
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest
from shouwang_casework.adapters import files
from shouwang_casework.adapters.db import campus_transaction
from shouwang_contracts.auth import mint_token
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events.intake import ReportSubmitted
from shouwang_contracts.vocabulary import Role, Signal

sys.path.insert(0, str(Path(__file__).parent))  # the shared helpers next to this file
from cases_support import CIPHER, PSEUDONYMS, SAMPLES, SECRET, in_both_languages

pytestmark = pytest.mark.integration

NOTE = "她说最近整夜睡不着，不想再麻烦别人了。"


def as_(campus_id: str, sub: str, role: Role) -> dict[str, str]:
    return {
        "Authorization": "Bearer " + mint_token(SECRET, sub=sub, role=role, campus_id=campus_id)
    }


async def seeded_campus(client: httpx.AsyncClient, pool: asyncpg.Pool) -> tuple[str, str]:
    """A campus with the sample rosters and one sealed report about student 2024020001."""
    campus_id = f"campus-{uuid.uuid4().hex[:8]}"
    admin = as_(campus_id, "A001", Role.CAMPUS_ADMIN)
    for kind, name in (("students", "roster_students.csv"), ("staff", "roster_staff.csv")):
        response = await client.post(
            f"/v1/roster/{kind}",
            files={"file": (name, (SAMPLES / name).read_bytes(), "text/csv")},
            headers=admin,
        )
        assert response.status_code == 200, response.text
    student_ref = PSEUDONYMS.student_ref(campus_id, "2024020001")
    now = datetime.now(UTC)
    report = ReportSubmitted(
        report_id=str(uuid.uuid4()),
        student_ref=student_ref,
        reporter_ref=PSEUDONYMS.person_ref(campus_id, "2024020001"),
        reporter_role=Role.DORM_LEADER,
        signals=[Signal.SLEEP_DISTURBANCE, Signal.HOPELESSNESS],
        observed_at=now,
        received_at=now,
        note=CIPHER.seal(NOTE, campus_id=campus_id, student_ref=student_ref),
    )
    envelope = Envelope.wrap(
        report, source="/shouwang/intake", campus_id=campus_id, subject=student_ref
    )
    async with campus_transaction(pool, campus_id) as conn:
        assert await files.store_report(conn, envelope)
        assert not await files.store_report(conn, envelope)  # idempotent by event id
    return campus_id, student_ref


async def audit_actions(pool: asyncpg.Pool, campus_id: str) -> list[tuple[str, str, bool]]:
    async with campus_transaction(pool, campus_id) as conn:
        rows = await conn.fetch(
            "SELECT principal_ref, action, break_glass FROM audit_log ORDER BY id"
        )
    return [(r[0], r[1], r[2]) for r in rows]


async def test_counselor_in_scope_reads_the_file_and_the_read_is_audited(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    campus_id, student_ref = await seeded_campus(client, pool)

    response = await client.get(
        f"/v1/students/{student_ref}/file",
        headers=as_(campus_id, "T1002", Role.RESIDENCE_COUNSELOR),  # 8号楼
    )

    assert response.status_code == 200, response.text
    file = response.json()
    assert file["student"]["building"] == "8号楼"
    (report,) = file["reports"]
    assert report["note"] == NOTE
    assert "note_sealed" not in report
    assert report["signals"] == ["sleep_disturbance", "hopelessness"]
    assert file["access"] == {"break_glass": False, "free_text": True}
    counselor = PSEUDONYMS.person_ref(campus_id, "T1002")
    assert await audit_actions(pool, campus_id) == [(counselor, "file.read", False)]


async def test_students_of_tiers_1_to_3_never_read_files(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    campus_id, student_ref = await seeded_campus(client, pool)
    response = await client.get(
        f"/v1/students/{student_ref}/file", headers=as_(campus_id, "2024020001", Role.DORM_LEADER)
    )
    assert response.status_code == 403


async def test_other_building_is_refused_then_breaks_the_glass_and_the_auditor_sees_it(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    campus_id, student_ref = await seeded_campus(client, pool)
    other = as_(campus_id, "T1001", Role.RESIDENCE_COUNSELOR)  # 7号楼
    other_ref = PSEUDONYMS.person_ref(campus_id, "T1001")

    refused = await client.get(f"/v1/students/{student_ref}/file", headers=other)
    assert refused.status_code == 403
    assert refused.json()["code"] == "out_of_scope"

    too_short = await client.post(
        f"/v1/students/{student_ref}/break-glass", json={"reason": "急" + " " * 20}, headers=other
    )
    assert too_short.status_code == 422
    grant = await client.post(
        f"/v1/students/{student_ref}/break-glass",
        json={"reason": "夜间值班接到室友电话，学生失联，需要查看既往记录", "minutes": 600},
        headers=other,
    )
    assert grant.status_code == 201, grant.text
    granted = grant.json()
    span = datetime.fromisoformat(granted["expires_at"]) - datetime.fromisoformat(
        granted["granted_at"]
    )
    assert span.total_seconds() == 120 * 60  # capped at the configured maximum

    opened = await client.get(f"/v1/students/{student_ref}/file", headers=other)
    assert opened.status_code == 200
    assert opened.json()["access"] == {"break_glass": True, "free_text": True}
    assert opened.json()["reports"][0]["note"] == NOTE

    assert await audit_actions(pool, campus_id) == [
        (other_ref, "file.read.refused", False),
        (other_ref, "break_glass.open", True),
        (other_ref, "file.read", True),
    ]

    auditor = as_(campus_id, "AU01", Role.AUDITOR)
    log = await client.get(
        "/v1/audit", params={"student_ref": student_ref, "break_glass": "true"}, headers=auditor
    )
    assert log.status_code == 200
    assert [(i["action"], i["principal_ref"]) for i in log.json()["items"]] == [
        ("file.read", other_ref),
        ("break_glass.open", other_ref),
    ]
    by_numbers = await client.get(
        "/v1/audit", params={"student_no": "2024020001", "staff_no": "T1001"}, headers=auditor
    )
    assert [i["action"] for i in by_numbers.json()["items"]] == [
        "file.read",
        "break_glass.open",
        "file.read.refused",
    ]
    page = await client.get("/v1/audit", params={"limit": 1}, headers=auditor)
    assert len(page.json()["items"]) == 1
    assert page.json()["next_before_id"] is not None
    # A cursor no id can have, or a time given as a number, is a 422: never a failed query's
    # 500, nor a number read as a Unix timestamp (found by tests/test_api_contracts.py).
    for wrong in ({"before_id": 2**63}, {"before_id": 0}, {"since": "0.5"}, {"until": "1e9"}):
        refused = await client.get("/v1/audit", params=wrong, headers=auditor)
        assert refused.status_code == 422, (wrong, refused.text)
        assert refused.json()["errors"][0]["field"] == f"query.{next(iter(wrong))}"
    since = await client.get("/v1/audit", params={"since": "2000-01-01T00:00:00Z"}, headers=auditor)
    assert since.status_code == 200
    assert since.json()["items"]  # ISO 8601 text is still welcome
    counselor_log = await client.get("/v1/audit", headers=other)
    assert counselor_log.status_code == 403

    center = as_(campus_id, "T3001", Role.COUNSELING_CENTER)
    queue = await client.get("/v1/audit/break-glass", headers=center)
    assert [g["id"] for g in queue.json()["items"]] == [granted["id"]]
    review = await client.post(
        f"/v1/audit/break-glass/{granted['id']}/review",
        json={"outcome": "justified", "note": "学生当晚失联，查看合理"},
        headers=center,
    )
    assert review.status_code == 200
    assert review.json()["review_outcome"] == "justified"
    assert (await client.get("/v1/audit/break-glass", headers=center)).json()["items"] == []
    not_tier6 = await client.post(
        f"/v1/audit/break-glass/{granted['id']}/review",
        json={"outcome": "unjustified"},
        headers=other,
    )
    assert not_tier6.status_code == 403


async def test_counselor_in_scope_cannot_break_the_glass(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    campus_id, student_ref = await seeded_campus(client, pool)
    response = await client.post(
        f"/v1/students/{student_ref}/break-glass",
        json={"reason": "想看看这个学生最近的情况怎么样，是否需要帮助"},
        headers=as_(campus_id, "T1002", Role.RESIDENCE_COUNSELOR),
    )
    assert response.status_code == 409


async def test_file_refusals_are_chinese_unless_english_comes_first(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    campus_id, student_ref = await seeded_campus(client, pool)
    file_url = f"/v1/students/{student_ref}/file"
    glass_url = f"/v1/students/{student_ref}/break-glass"
    reason = {"reason": "夜间值班接到室友电话，学生失联，需要查看"}
    leader = as_(campus_id, "2024020001", Role.DORM_LEADER)
    college = as_(campus_id, "L001", Role.COLLEGE_LEADER)
    other = as_(campus_id, "T1001", Role.RESIDENCE_COUNSELOR)  # 7号楼
    in_scope = as_(campus_id, "T1002", Role.RESIDENCE_COUNSELOR)  # 8号楼
    center = as_(campus_id, "T3001", Role.COUNSELING_CENTER)

    # 403s that name a role: the caller's by its Chinese label, the allowed ones too.
    chinese, english = await in_both_languages(
        client, "GET", file_url, leader, 403, "role_forbidden"
    )
    assert Role.DORM_LEADER.label() in chinese["detail"]
    assert "dorm_leader" in english["detail"]
    chinese, english = await in_both_languages(
        client, "POST", glass_url, college, 403, "role_forbidden", json=reason
    )
    assert Role.COLLEGE_LEADER.label() in chinese["detail"]
    assert Role.COUNSELING_CENTER.label() in chinese["detail"]
    assert "college_leader" in english["detail"]
    chinese, _ = await in_both_languages(
        client, "GET", "/v1/audit/break-glass", in_scope, 403, "role_forbidden"
    )
    assert Role.AUDITOR.label() in chinese["detail"]
    await in_both_languages(client, "GET", file_url, other, 403, "out_of_scope")
    # 404s and the 409.
    await in_both_languages(
        client, "GET", "/v1/students/no-such-student/file", other, 404, "student_not_found"
    )
    await in_both_languages(
        client,
        "POST",
        f"/v1/audit/break-glass/{uuid.uuid4()}/review",
        center,
        404,
        "grant_not_found",
        json={"outcome": "justified"},
    )
    await in_both_languages(
        client, "POST", glass_url, in_scope, 409, "already_in_scope", json=reason
    )


async def test_the_audit_log_refuses_changes_and_the_service_cannot_grant_them_back(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    campus_id, student_ref = await seeded_campus(client, pool)
    await client.get(
        f"/v1/students/{student_ref}/file", headers=as_(campus_id, "T3001", Role.COUNSELING_CENTER)
    )

    async def attempt(statement: str) -> None:
        async with campus_transaction(pool, campus_id) as conn:
            # The runtime role owns nothing: granting itself the right grants nothing.
            await conn.execute("GRANT UPDATE, DELETE ON audit_log TO casework")
            await conn.execute(statement)

    for statement in ("UPDATE audit_log SET reason = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await attempt(statement)
    assert len(await audit_actions(pool, campus_id)) == 1


async def test_file_rows_of_another_campus_are_invisible(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    campus_id, student_ref = await seeded_campus(client, pool)
    async with campus_transaction(pool, "another-campus") as conn:
        for table in ("file_reports", "audit_log", "break_glass_grants", "students"):
            rows = await conn.fetch(f"SELECT * FROM {table} WHERE campus_id = $1", campus_id)  # noqa: S608
            assert rows == [], table
    response = await client.get(
        f"/v1/students/{student_ref}/file",
        headers=as_("another-campus", "T3001", Role.COUNSELING_CENTER),
    )
    assert response.status_code == 200
    assert response.json()["reports"] == []
    assert response.json()["student"] is None


async def test_the_file_holds_cases_with_history_notes_and_plans_opened(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    campus_id, student_ref = await seeded_campus(client, pool)
    case_id = uuid.uuid4()
    now = datetime.now(UTC)

    def seal(text: str) -> str:
        return CIPHER.seal(text, campus_id=campus_id, student_ref=student_ref).model_dump_json()

    async with campus_transaction(pool, campus_id) as conn:
        await conn.execute(
            """
            INSERT INTO cases (case_id, campus_id, student_ref, state, severity, severity_rank,
                               owner_role, opened_at, updated_at)
            VALUES ($1, $2, $3, 'monitoring', 'moderate', 2, 'community_psych_teacher', $4, $4)
            """,
            case_id,
            campus_id,
            student_ref,
            now,
        )
        await conn.execute(
            """
            INSERT INTO case_history (campus_id, case_id, seq, kind, from_state, to_state,
                                      actor_ref, actor_role, sealed_text, at)
            VALUES ($1, $2, 1, 'transition', 'open', 'monitoring', 'per_t', 'residence_counselor',
                    $3::jsonb, $4)
            """,
            campus_id,
            case_id,
            seal("约谈一次，同意每周见面"),
            now,
        )
        await conn.execute(
            """
            INSERT INTO notes (note_id, version, campus_id, case_id, student_ref, author_ref,
                               author_role, sealed, created_at)
            VALUES ($1, 1, $2, $3, $4, 'per_t', 'residence_counselor', $5::jsonb, $6)
            """,
            uuid.uuid4(),
            campus_id,
            case_id,
            student_ref,
            seal("情绪较上周平稳"),
            now,
        )
        actions = [
            {"action_id": "a1", "kind": "talk", "status": "open", "description": seal("每周谈话")}
        ]
        await conn.execute(
            """
            INSERT INTO plans (case_id, version, campus_id, actions, updated_by_ref, updated_at)
            VALUES ($1, 1, $2, $3::jsonb, 'per_t', $4)
            """,
            case_id,
            campus_id,
            json.dumps(actions),
            now,
        )

    response = await client.get(
        f"/v1/students/{student_ref}/file",
        headers=as_(campus_id, "T2001", Role.COMMUNITY_PSYCH_TEACHER),  # campus scope in roster
    )

    assert response.status_code == 200, response.text
    (case,) = response.json()["cases"]
    assert case["state"] == "monitoring"
    assert case["case_history"][0]["text"] == "约谈一次，同意每周见面"
    assert case["notes"][0]["text"] == "情绪较上周平稳"
    assert case["plans"][0]["actions"][0]["description"] == "每周谈话"
    assert "sealed" not in response.text
