"""Retention: a closed file's free text ends after the period; its structure and audit stay.

Files are seeded as the service writes them (sealed texts, history rows) straight into the
module's database, with closures years in the past. The chore's function
(`service_layer.retention.erase_due_files`) erases them through the database function of
migration 0009, as the runtime role; the runtime role itself still cannot touch the history.
"""

from __future__ import annotations

import json
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from shouwang_casework.adapters.db import campus_transaction
from shouwang_casework.adapters.retention import (
    due_files,
    erase_file_text,
    erase_file_text_on_request,
)
from shouwang_casework.config import CaseworkSettings
from shouwang_casework.main import create_app
from shouwang_casework.service_layer.erasure import delete_due_leavers
from shouwang_casework.service_layer.retention import erase_due_files

sys.path.insert(0, str(Path(__file__).parent))
from cases_support import (
    CENTER,
    CIPHER,
    COUNSELOR_8,
    PSEUDONYMS,
    SECRET,
    STUDENT_NO,
    import_roster,
    in_both_languages,
    outbox_events,
    refused,
    token,
    wait_for,
)
from shouwang_contracts.events import StudentErased
from shouwang_contracts.vocabulary import Role

pytestmark = pytest.mark.integration
ERASED = StudentErased.EVENT_TYPE

RETENTION = timedelta(days=1096)
YEAR = timedelta(days=365)
NOTE = "学生自述因失恋情绪低落，曾有轻生念头"


def _seal(campus_id: str, student_ref: str, text: str) -> str:
    return CIPHER.seal(text, campus_id=campus_id, student_ref=student_ref).model_dump_json()


async def seed_file(
    pool: asyncpg.Pool,
    campus_id: str,
    *,
    closed_ago: timedelta | None,
    opened_ago: timedelta = 5 * YEAR,
    student_ref: str | None = None,
) -> tuple[str, str]:
    """One student's case with every kind of free text; closed `closed_ago`, or open (None).
    Returns (student_ref, case_id)."""
    student_ref = student_ref or f"stu_{uuid.uuid4().hex[:12]}"
    case_id = uuid.uuid4()
    now = datetime.now(UTC)
    opened = now - opened_ago
    closed = now - closed_ago if closed_ago is not None else None

    def sealed(text: str) -> str:
        return _seal(campus_id, student_ref, text)

    async with campus_transaction(pool, campus_id) as conn:
        await conn.execute(
            """
            INSERT INTO cases (case_id, campus_id, student_ref, state, severity, severity_rank,
                               owner_role, outcome, opened_at, updated_at, closed_at)
            VALUES ($1, $2, $3, $4, 'severe', 3, 'residence_counselor', $5, $6, $7, $8)
            """,
            case_id, campus_id, student_ref, "closed" if closed else "intervention",
            "stable" if closed else None, opened, closed or opened, closed,
        )  # fmt: skip
        history = [
            (1, "opened", None, "open", None, opened),
            (2, "note", None, None, sealed("面谈记录：" + NOTE), opened + timedelta(days=1)),
        ]
        if closed:
            history.append((3, "transition", "open", "closed", sealed("结案：情绪稳定"), closed))
        await conn.executemany(
            """
            INSERT INTO case_history (campus_id, case_id, seq, kind, from_state, to_state,
                                      actor_ref, actor_role, detail, sealed_text, at)
            VALUES ($1, $2, $3, $4, $5, $6, 'per_c', 'residence_counselor', '{"severity": "severe"}',
                    $7::jsonb, $8)
            """,
            [(campus_id, case_id, *row) for row in history],
        )
        await conn.execute(
            """
            INSERT INTO notes (note_id, version, campus_id, case_id, student_ref, author_ref,
                               author_role, sealed, created_at)
            VALUES ($1, 1, $2, $3, $4, 'per_c', 'residence_counselor', $5::jsonb, $6)
            """,
            uuid.uuid4(), campus_id, case_id, student_ref, sealed(NOTE), opened,
        )  # fmt: skip
        actions = [
            {"action_id": "a1", "kind": "talk", "owner_ref": "per_c", "due_at": None,
             "status": "done", "description": sealed("每周谈心一次")},
        ]  # fmt: skip
        await conn.execute(
            """
            INSERT INTO plans (case_id, version, campus_id, actions, updated_by_ref, updated_at)
            VALUES ($1, 1, $2, $3::jsonb, 'per_c', $4)
            """,
            case_id, campus_id, json.dumps(actions), opened,
        )  # fmt: skip
        await conn.execute(
            """
            INSERT INTO consents (consent_id, campus_id, case_id, subject, decision,
                                  sealed_reason, recorded_by_ref, recorded_by_role, recorded_at)
            VALUES ($1, $2, $3, 'family_contact', 'overridden', $4::jsonb, 'per_c',
                    'residence_counselor', $5)
            """,
            uuid.uuid4(), campus_id, case_id, sealed("有自伤风险，须告知家长"), opened,
        )  # fmt: skip
        await conn.execute(
            """
            INSERT INTO follow_ups (follow_up_id, campus_id, case_id, purpose, due_at, status,
                                    sealed_reason, created_by_ref, created_at, finding)
            VALUES ($1, $2, $3, 'aftercare', $4, 'completed', $5::jsonb, 'per_c', $4, 'stable')
            """,
            uuid.uuid4(), campus_id, case_id, opened, sealed("回访：睡眠改善"),
        )  # fmt: skip
        await conn.execute(
            """
            INSERT INTO referrals (referral_id, campus_id, case_id, destination_type,
                                   destination, status, consent, created_by_ref, created_at,
                                   updated_at)
            VALUES ($1, $2, $3, 'hospital', '市精神卫生中心', 'returned', 'given', 'per_c',
                    $4, $4)
            """,
            uuid.uuid4(), campus_id, case_id, opened,
        )  # fmt: skip
        await conn.execute(
            """
            INSERT INTO break_glass_grants (id, campus_id, person_ref, role, student_ref,
                                            sealed_reason, granted_at, expires_at,
                                            reviewed_at, review_outcome, sealed_review_note)
            VALUES ($1, $2, 'per_x', 'community_psych_teacher', $3, $4::jsonb, $5::timestamptz,
                    $5::timestamptz + interval '2h',
                    $5, 'justified', $6::jsonb)
            """,
            uuid.uuid4(), campus_id, student_ref, sealed("夜间紧急，需查看档案"), opened,
            sealed("合理"),
        )  # fmt: skip
        await conn.execute(
            """
            INSERT INTO file_reports (campus_id, report_id, event_id, student_ref,
                                      reporter_ref, reporter_role, signals, observed_at,
                                      received_at, location, note_sealed)
            VALUES ($1, $2, $2, $3, 'per_r', 'dorm_leader', '{self_harm_talk}', $4, $4,
                    $5, $6::jsonb)
            """,
            campus_id, uuid.uuid4().hex, student_ref, opened, sealed("8号楼202"),
            sealed("室友说她整夜哭"),
        )  # fmt: skip
    return student_ref, str(case_id)


#: Counts of every free text a student's file holds ($1 = student_ref), and of the history
#: rows that must stay.
TEXT_COUNTS = {
    "history_texts": "SELECT count(h.sealed_text) FROM case_history h JOIN cases c USING (case_id)"
    " WHERE c.student_ref = $1",
    "history_rows": "SELECT count(*) FROM case_history h JOIN cases c USING (case_id)"
    " WHERE c.student_ref = $1",
    "notes": "SELECT count(*) FROM notes WHERE student_ref = $1",
    "plan_texts": "SELECT count(*) FROM plans p JOIN cases c USING (case_id),"
    " jsonb_array_elements(p.actions) a"
    " WHERE c.student_ref = $1 AND a->>'description' IS NOT NULL",
    "consent_reasons": "SELECT count(x.sealed_reason) FROM consents x JOIN cases c"
    " USING (case_id) WHERE c.student_ref = $1",
    "follow_up_reasons": "SELECT count(x.sealed_reason) FROM follow_ups x JOIN cases c"
    " USING (case_id) WHERE c.student_ref = $1",
    "destinations": "SELECT count(*) FROM referrals x JOIN cases c USING (case_id)"
    " WHERE c.student_ref = $1 AND x.destination <> ''",
    "break_glass_texts": "SELECT count(*) FROM break_glass_grants WHERE student_ref = $1"
    " AND (sealed_reason IS NOT NULL OR sealed_review_note IS NOT NULL"
    " OR reason IS NOT NULL OR review_note IS NOT NULL)",
    "report_texts": "SELECT count(*) FROM file_reports WHERE student_ref = $1"
    " AND (note_sealed IS NOT NULL OR location IS NOT NULL)",
}


async def file_text(pool: asyncpg.Pool, campus_id: str, student_ref: str) -> dict[str, Any]:
    """Every free text the student's file holds, and the structure that must stay."""
    async with campus_transaction(pool, campus_id) as conn:
        return {name: await conn.fetchval(q, student_ref) for name, q in TEXT_COUNTS.items()}


FULL = {
    "notes": 1,
    "plan_texts": 1,
    "consent_reasons": 1,
    "follow_up_reasons": 1,
    "destinations": 1,
    "break_glass_texts": 1,
    "report_texts": 1,
}


async def erasures_audited(pool: asyncpg.Pool, campus_id: str, student_ref: str) -> list[Any]:
    async with campus_transaction(pool, campus_id) as conn:
        return await conn.fetch(
            "SELECT principal_ref, role, action, reason FROM audit_log"
            " WHERE student_ref = $1 AND action = 'file.text_erased'",
            student_ref,
        )


async def test_a_due_closed_file_loses_its_text_and_keeps_its_structure_and_audit(
    pool: asyncpg.Pool,
) -> None:
    campus = f"ret-{uuid.uuid4().hex[:6]}"
    student, case_id = await seed_file(pool, campus, closed_ago=4 * YEAR)
    # The same pseudonym in another campus, as due: the chore below walks one campus only.
    other = f"ret-{uuid.uuid4().hex[:6]}"
    await seed_file(pool, other, closed_ago=4 * YEAR, student_ref=student)
    assert await file_text(pool, campus, student) == {
        **FULL, "history_texts": 2, "history_rows": 3
    }  # fmt: skip

    erased, more = await erase_due_files(pool, [campus], RETENTION, batch=10)

    assert (erased, more) == (1, False)
    assert await file_text(pool, campus, student) == {
        **dict.fromkeys(FULL, 0), "history_texts": 0, "history_rows": 3
    }  # fmt: skip
    async with campus_transaction(pool, campus) as conn:
        case = await conn.fetchrow("SELECT * FROM cases WHERE case_id = $1", uuid.UUID(case_id))
        kinds = [r["kind"] for r in await conn.fetch("SELECT kind FROM case_history ORDER BY seq")]
        consent = await conn.fetchrow("SELECT decision, text_erased_at FROM consents")
        finding = await conn.fetchval("SELECT finding FROM follow_ups")
        referral = await conn.fetchval("SELECT destination_type FROM referrals")
    # What the outcome figures need stays: severity, state, outcome, times, the history's
    # structure, decisions and findings.
    assert (case["state"], case["severity"], case["outcome"]) == ("closed", "severe", "stable")
    assert case["closed_at"] is not None
    assert kinds == ["opened", "note", "transition"]
    assert consent["decision"] == "overridden"
    assert consent["text_erased_at"] is not None
    assert (finding, referral) == ("stable", "hospital")
    [entry] = await erasures_audited(pool, campus, student)
    assert (entry["principal_ref"], entry["role"]) == ("retention", "system")
    assert "cases:1" in entry["reason"]
    assert "稳定" not in entry["reason"]
    # Once erased, the file is not due again, and nothing else of the other campus moved.
    assert await erase_due_files(pool, [campus], RETENTION, batch=10) == (0, False)
    assert len(await erasures_audited(pool, campus, student)) == 1
    assert (await file_text(pool, other, student))["notes"] == 1


async def test_a_student_with_an_open_case_keeps_everything(pool: asyncpg.Pool) -> None:
    """Clinical safety first: an old closed case beside an open one erases nothing, even when
    the function is asked for that student directly."""
    campus = f"ret-{uuid.uuid4().hex[:6]}"
    student, _ = await seed_file(pool, campus, closed_ago=5 * YEAR, opened_ago=6 * YEAR)
    await seed_file(
        pool, campus, closed_ago=None, opened_ago=timedelta(days=3), student_ref=student
    )
    before = await file_text(pool, campus, student)

    assert await erase_due_files(pool, [campus], RETENTION, batch=10) == (0, False)
    async with campus_transaction(pool, campus) as conn:
        assert await due_files(conn, RETENTION, 10) == []
        assert await erase_file_text(conn, student, RETENTION) == 0

    assert await file_text(pool, campus, student) == before
    assert before["notes"] == 2
    assert await erasures_audited(pool, campus, student) == []


async def test_a_recently_closed_or_reopened_file_keeps_everything(pool: asyncpg.Pool) -> None:
    """The clock starts at the last closure: a case closed a year ago keeps its text, and so
    does one first closed four years ago, reopened and closed again 200 days ago."""
    campus = f"ret-{uuid.uuid4().hex[:6]}"
    recent, _ = await seed_file(pool, campus, closed_ago=YEAR)
    reopened, case_id = await seed_file(pool, campus, closed_ago=timedelta(days=200))
    async with campus_transaction(pool, campus) as conn:
        # Its history shows the first closure and the reopening before the last closure.
        await conn.executemany(
            """
            INSERT INTO case_history (campus_id, case_id, seq, kind, from_state, to_state,
                                      actor_ref, actor_role, at)
            VALUES ($1, $2, $3, 'transition', $4, $5, 'per_c', 'residence_counselor', now() - $6::interval)
            """,
            [
                (campus, uuid.UUID(case_id), 4, "open", "closed", 4 * YEAR),
                (campus, uuid.UUID(case_id), 5, "closed", "monitoring", YEAR),
            ],
        )
    before = {s: await file_text(pool, campus, s) for s in (recent, reopened)}

    assert await erase_due_files(pool, [campus], RETENTION, batch=10) == (0, False)
    async with campus_transaction(pool, campus) as conn:
        assert await erase_file_text(conn, reopened, RETENTION) == 0

    assert {s: await file_text(pool, campus, s) for s in (recent, reopened)} == before
    assert before[reopened]["notes"] == 1


async def test_runtime_role_cannot_erase_history_outside_retention(
    pool: asyncpg.Pool, casework_dsn: str
) -> None:
    """The service gains no right over the history: it cannot blank or delete a row itself
    (not even with the function's switch set), cannot mark a file erased, and cannot make
    the function erase a recently closed file by asking for a short period."""
    campus = f"ret-{uuid.uuid4().hex[:6]}"
    student, _ = await seed_file(pool, campus, closed_ago=timedelta(days=30))
    before = await file_text(pool, campus, student)
    conn = await asyncpg.connect(casework_dsn)
    try:
        assert await conn.fetchval("SELECT current_user") == "casework"
        for statement in (
            "UPDATE case_history SET sealed_text = NULL",
            "DELETE FROM case_history",
            "INSERT INTO retention_erasures (campus_id, student_ref, through, cases)"
            " VALUES (current_setting('shouwang.campus_id'), 'stu_any', now(), 1)",
            "DELETE FROM retention_erasures",
            "ALTER FUNCTION erase_closed_file_text(text, interval) SECURITY INVOKER",
            "CREATE OR REPLACE FUNCTION case_history_append_only() RETURNS trigger"
            " LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END; $$",
        ):
            async with conn.transaction():
                await conn.execute("SELECT set_config('shouwang.campus_id', $1, true)", campus)
                await conn.execute("SELECT set_config('shouwang.retention_erasing', 'on', true)")
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await conn.execute(statement)
        for period in (timedelta(0), timedelta(days=179)):
            async with conn.transaction():
                await conn.execute("SELECT set_config('shouwang.campus_id', $1, true)", campus)
                with pytest.raises(asyncpg.InvalidParameterValueError):
                    await conn.fetchval(
                        "SELECT erase_closed_file_text($1, $2::interval)", student, period
                    )
        # Without a campus the function sees no file and erases nothing.
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetchval(
                "SELECT erase_closed_file_text($1, $2::interval)", student, RETENTION
            )
    finally:
        await conn.close()
    assert await file_text(pool, campus, student) == before
    assert await erasures_audited(pool, campus, student) == []


async def test_a_backlog_is_erased_in_small_batches(pool: asyncpg.Pool) -> None:
    """A full batch asks the chore to run again at once; the last batch says it is done."""
    campus = f"ret-{uuid.uuid4().hex[:6]}"
    students = [(await seed_file(pool, campus, closed_ago=4 * YEAR))[0] for _ in range(3)]

    assert await erase_due_files(pool, [campus], RETENTION, batch=2) == (2, True)
    assert await erase_due_files(pool, [campus], RETENTION, batch=2) == (1, False)
    for student in students:
        assert len(await erasures_audited(pool, campus, student)) == 1


async def test_an_erased_file_still_reads_for_the_counseling_center(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    """After erasure the file, the case, its history, notes, plan and the break-the-glass
    review queue still answer 200 with their structure, and no erased text comes back."""
    campus = f"ret-{uuid.uuid4().hex[:6]}"
    await import_roster(client, campus)
    student = PSEUDONYMS.student_ref(campus, STUDENT_NO)
    _, case_id = await seed_file(pool, campus, closed_ago=4 * YEAR, student_ref=student)
    assert await erase_due_files(pool, [campus], RETENTION, batch=10) == (1, False)

    center = token(SECRET, campus, CENTER, Role.COUNSELING_CENTER)
    bodies = {}
    for path in (
        f"/v1/students/{student}/file",
        f"/v1/cases/{case_id}",
        f"/v1/cases/{case_id}/history",
        f"/v1/cases/{case_id}/notes",
        f"/v1/cases/{case_id}/plan",
        "/v1/audit/break-glass",
    ):
        response = await client.get(path, headers=center)
        assert response.status_code == 200, (path, response.text)
        bodies[path] = response.text
    history = json.loads(bodies[f"/v1/cases/{case_id}/history"])
    assert [h["kind"] for h in history] == ["opened", "note", "transition"]
    assert json.loads(bodies[f"/v1/cases/{case_id}/notes"]) == []
    for erased in ("轻生", "结案：", "每周谈心", "告知家长", "睡眠改善", "精神卫生中心", "整夜哭"):
        assert not any(erased in body for body in bodies.values()), erased


async def test_the_counseling_center_erases_a_closed_file_on_request(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    """PIPL Art. 47: a file closed ten days ago loses its text at once on the student's
    request, carried out by tier 6; audited under the center's name and the request's
    reference; the retention chore then finds nothing left to do."""
    campus = f"ret-{uuid.uuid4().hex[:6]}"
    await import_roster(client, campus)
    student = PSEUDONYMS.student_ref(campus, STUDENT_NO)
    await seed_file(pool, campus, closed_ago=timedelta(days=10), student_ref=student)

    response = await client.post(
        f"/v1/students/{student}/erasure",
        json={"request_ref": "PIPL-2026-0042"},
        headers=token(SECRET, campus, CENTER, Role.COUNSELING_CENTER),
    )

    assert response.status_code == 200, response.text
    assert response.json()["cases"] == 1
    assert await file_text(pool, campus, student) == {
        **dict.fromkeys(FULL, 0), "history_texts": 0, "history_rows": 3
    }  # fmt: skip
    [entry] = await erasures_audited(pool, campus, student)
    assert entry["principal_ref"] == PSEUDONYMS.person_ref(campus, CENTER)
    assert entry["role"] == "counseling_center"
    assert entry["reason"] == "request:PIPL-2026-0042;cases:1"
    assert await erase_due_files(pool, [campus], timedelta(days=180), batch=10) == (0, False)
    # The other services hear of it through the outbox: who and when, never the request.
    [erased] = [e for e in await outbox_events(pool, campus) if e["type"] == ERASED]
    assert erased["subject"] == student
    assert set(erased["data"]) == {"student_ref", "erased_at", "cases"}
    assert (erased["data"]["student_ref"], erased["data"]["cases"]) == (student, 1)
    assert "PIPL-2026-0042" not in json.dumps(erased)


async def test_an_erasure_request_is_refused_while_a_case_is_open(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    """Clinical safety first: with a case open nothing is erased; the refusal is a 409
    problem+json in both languages and stays in the audit log. Only tier 6 may ask, only for
    a student of its campus."""
    campus = f"ret-{uuid.uuid4().hex[:6]}"
    await import_roster(client, campus)
    student = PSEUDONYMS.student_ref(campus, STUDENT_NO)
    await seed_file(pool, campus, closed_ago=4 * YEAR, opened_ago=5 * YEAR, student_ref=student)
    await seed_file(
        pool, campus, closed_ago=None, opened_ago=timedelta(days=2), student_ref=student
    )
    before = await file_text(pool, campus, student)
    center = token(SECRET, campus, CENTER, Role.COUNSELING_CENTER)
    url = f"/v1/students/{student}/erasure"
    body = {"request_ref": "PIPL-2026-0043"}

    chinese, english = await in_both_languages(
        client, "POST", url, center, 409, "erasure_case_open", json=body
    )

    assert "未结案" in chinese["detail"]
    assert "case open" in english["detail"]
    assert await file_text(pool, campus, student) == before
    assert await erasures_audited(pool, campus, student) == []
    assert not [e for e in await outbox_events(pool, campus) if e["type"] == ERASED]
    async with campus_transaction(pool, campus) as conn:
        refusals = await conn.fetch(
            "SELECT action, reason FROM audit_log WHERE student_ref = $1"
            " AND action = 'file.erase.refused'",
            student,
        )
    assert [tuple(r) for r in refusals] == [("file.erase.refused", "erasure_case_open")] * 2
    counselor = token(SECRET, campus, COUNSELOR_8, Role.RESIDENCE_COUNSELOR)
    assert (await client.post(url, json=body, headers=counselor)).status_code == 403
    refused(
        await client.post("/v1/students/stu_nobody/erasure", json=body, headers=center),
        404,
        "student_not_found",
    )
    free_text = await client.post(url, json={"request_ref": "学生说想删掉"}, headers=center)
    assert free_text.status_code == 422


async def test_runtime_role_cannot_erase_on_request_as_anyone_but_the_center(
    pool: asyncpg.Pool, casework_dsn: str
) -> None:
    """The database checks the role it is told and the open case itself, and its shared body
    cannot be called without the two functions' checks."""
    campus = f"ret-{uuid.uuid4().hex[:6]}"
    student, _ = await seed_file(pool, campus, closed_ago=None, opened_ago=timedelta(days=1))
    before = await file_text(pool, campus, student)
    conn = await asyncpg.connect(casework_dsn)
    try:
        calls = (
            (asyncpg.InsufficientPrivilegeError, "erase_file_text_on_request($1, 'p', 'auditor', 'r')"),
            (asyncpg.ObjectInUseError, "erase_file_text_on_request($1, 'p', 'counseling_center', 'r')"),
            (asyncpg.InsufficientPrivilegeError, "erase_file_text_before($1, now())"),
        )  # fmt: skip
        for error, call in calls:
            async with conn.transaction():
                await conn.execute("SELECT set_config('shouwang.campus_id', $1, true)", campus)
                with pytest.raises(error):
                    await conn.fetchval(f"SELECT {call}", student)
    finally:
        await conn.close()
    assert await file_text(pool, campus, student) == before


async def test_the_running_service_erases_due_files_by_itself(
    casework_settings: CaseworkSettings, pool: asyncpg.Pool
) -> None:
    """The chore is wired: a casework started for the campus erases a due file on its first
    turn (the kit runs a chore at once on start), and leaves an open one alone."""
    campus = f"ret-{uuid.uuid4().hex[:6]}"
    due, _ = await seed_file(pool, campus, closed_ago=4 * YEAR)
    open_, _ = await seed_file(pool, campus, closed_ago=None)
    settings = casework_settings.model_copy(update={"campuses": [campus]})
    app = create_app(settings)

    async with app.router.lifespan_context(app):

        async def erased() -> bool:
            return bool(await erasures_audited(pool, campus, due))

        assert await wait_for(erased, within=60.0)

    assert (await file_text(pool, campus, due))["notes"] == 0
    assert (await file_text(pool, campus, open_))["notes"] == 1
    assert await erasures_audited(pool, campus, open_) == []


async def test_a_leavers_roster_row_ends_once_gone_long_and_every_file_text_erased(
    pool: asyncpg.Pool,
) -> None:
    """A leaver's name and 学号 end a year after they left, never while a case is open or a
    file of theirs still has its text; the deletion is audited, and a recent leaver, a student
    still here and another campus keep theirs."""
    campus, other_campus = (f"ret-{uuid.uuid4().hex[:6]}" for _ in range(2))
    long_ago = datetime.now(UTC) - timedelta(days=400)
    rows = {
        "gone": (False, long_ago),
        "gone_file_erased": (False, long_ago),
        "gone_file_kept": (False, long_ago),
        "gone_in_care": (False, long_ago),
        "just_left": (False, datetime.now(UTC) - timedelta(days=10)),
        "here": (True, long_ago),
    }
    refs = {name: f"stu_{name}_{uuid.uuid4().hex[:6]}" for name in rows}
    for campus_id, names in ((campus, rows), (other_campus, {"gone": rows["gone"]})):
        async with campus_transaction(pool, campus_id) as conn:
            for name, (active, at) in names.items():
                await conn.execute(
                    "INSERT INTO students (campus_id, student_ref, student_no, name, active,"
                    " updated_at) VALUES ($1, $2, $3, '测试学生', $4, $5)",
                    campus_id,
                    refs[name],
                    uuid.uuid4().hex[:10],
                    active,
                    at,
                )
    await seed_file(pool, campus, closed_ago=2 * YEAR, student_ref=refs["gone_file_erased"])
    await seed_file(pool, campus, closed_ago=2 * YEAR, student_ref=refs["gone_file_kept"])
    await seed_file(pool, campus, closed_ago=None, student_ref=refs["gone_in_care"])
    async with campus_transaction(pool, campus) as conn:
        await erase_file_text_on_request(
            conn,
            refs["gone_file_erased"],
            principal_ref="per_center",
            role="counseling_center",
            request_ref="PIPL-2026-0100",
        )

    first = await delete_due_leavers(pool, [campus], timedelta(days=365), batch=1)
    rest = await delete_due_leavers(pool, [campus], timedelta(days=365), batch=10)

    assert (first, rest) == ((1, True), (1, False))
    async with campus_transaction(pool, campus) as conn:
        kept = {r[0] for r in await conn.fetch("SELECT student_ref FROM students")}
        audited = await conn.fetch(
            "SELECT student_ref, principal_ref, reason FROM audit_log"
            " WHERE action = 'roster.leaver_deleted' ORDER BY id"
        )
    assert kept == {refs[n] for n in ("gone_file_kept", "gone_in_care", "just_left", "here")}
    assert {r["student_ref"] for r in audited} == {refs["gone"], refs["gone_file_erased"]}
    assert {(r["principal_ref"], r["reason"]) for r in audited} == {("retention", "retention:365d")}
    async with campus_transaction(pool, other_campus) as conn:
        assert await conn.fetchval("SELECT count(*) FROM students") == 1


def test_a_leavers_roster_period_under_a_term_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEWORK_LEAVER_ROSTER_DAYS", "179")
    with pytest.raises(ValueError, match="leaver_roster_days"):
        CaseworkSettings()
