"""The audit log under live pages, on real PostgreSQL: the queue and the awaiting list refresh
every 15 s; the log must still say who saw whom, when and through which page, without a row per
student per refresh (service_layer/access.py: what a row stands for)."""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from shouwang_casework.adapters.db import campus_transaction
from shouwang_casework.adapters.queue import QueueFilter
from shouwang_casework.service_layer import views
from shouwang_casework.service_layer.access import Caller
from shouwang_contracts.auth import Principal
from shouwang_contracts.vocabulary import Role, Severity

sys.path.insert(0, str(Path(__file__).parent))  # the shared helpers next to this file
from cases_support import (
    CENTER,
    COUNSELOR_7,
    COUNSELOR_8,
    PSEUDONYMS,
    SAMPLES,
    SECRET,
    deliver,
    import_roster,
    token,
    warning,
)

pytestmark = pytest.mark.integration

WINDOW = timedelta(minutes=15)  # the default of CASEWORK_AUDIT_LIST_WINDOW_SECONDS
LISTINGS = ("case.queue.read", "case.awaiting.read", "student.card.read")


def building_8() -> list[str]:
    """学号 of the sample roster's students of 8号楼 (COUNSELOR_8's scope), in file order."""
    lines = (SAMPLES / "roster_students.csv").read_text(encoding="utf-8").splitlines()[1:]
    return [line.split(",")[0] for line in lines if line.split(",")[7] == "8号楼"]


async def open_cases(pool: asyncpg.Pool, campus: str, numbers: list[str]) -> list[str]:
    """A moderate case, its alert unacknowledged and owned by 8号楼's counselor, per student."""
    refs = [PSEUDONYMS.student_ref(campus, n) for n in numbers]
    for ref in refs:
        w = warning(campus, ref, Severity.MODERATE, Role.RESIDENCE_COUNSELOR)
        await deliver(pool, campus, w)
    return refs


async def seeded(
    client: httpx.AsyncClient, pool: asyncpg.Pool, students: int
) -> tuple[str, list[str]]:
    campus = f"campus-{uuid.uuid4().hex[:8]}"
    await import_roster(client, campus)
    return campus, await open_cases(pool, campus, building_8()[:students])


async def log(pool: asyncpg.Pool, campus: str) -> list[dict[str, Any]]:
    async with campus_transaction(pool, campus) as conn:
        rows = await conn.fetch(
            "SELECT id, principal_ref, role, student_ref, action, break_glass, at, covers_seconds"
            " FROM audit_log ORDER BY id"
        )
    return [dict(r) for r in rows]


def seen(rows: list[dict[str, Any]], action: str, who: str | None = None) -> list[str]:
    """The students of `action` rows (of reader `who`), one entry per row."""
    return [
        r["student_ref"]
        for r in rows
        if r["action"] == action and (who is None or r["principal_ref"] == who)
    ]


async def get(client: httpx.AsyncClient, path: str, headers: dict[str, str], **params: Any) -> Any:
    response = await client.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_live_queue_does_not_flood_the_audit_log(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    campus, refs = await seeded(client, pool, 6)
    counselor = token(SECRET, campus, COUNSELOR_8, Role.RESIDENCE_COUNSELOR)
    reader = PSEUDONYMS.person_ref(campus, COUNSELOR_8)
    # An open tab for a while: the queue, the awaiting list and the names, every 15 s.
    for _ in range(10):
        page = await get(client, "/v1/cases", counselor, limit=100)
        assert sorted(c["student_ref"] for c in page["items"]) == sorted(refs)
        assert len((await get(client, "/v1/alerts/awaiting-me", counselor))["items"]) == 6
        await get(client, "/v1/students/cards", counselor, ref=refs)
    rows = await log(pool, campus)
    for action in LISTINGS:  # each student once per page, the first showing only
        assert sorted(seen(rows, action, reader)) == sorted(refs), action
    assert len(rows) == 3 * len(refs)

    # A new case shows up: only its student is recorded on the next refresh.
    (newcomer,) = await open_cases(pool, campus, building_8()[6:7])
    await get(client, "/v1/cases", counselor, limit=100)
    await get(client, "/v1/alerts/awaiting-me", counselor)
    added = (await log(pool, campus))[len(rows) :]
    assert [(r["student_ref"], r["action"]) for r in added] == [
        (newcomer, "case.queue.read"),
        (newcomer, "case.awaiting.read"),
    ]

    # The auditor reads each listing row with the span it stands for; a single read has none.
    await get(client, f"/v1/cases/{page['items'][0]['case_id']}", counselor)
    auditor = token(SECRET, campus, "AU01", Role.AUDITOR)
    student = page["items"][0]["student_ref"]
    entries = (await get(client, "/v1/audit", auditor, student_ref=student))["items"]
    by_action = {e["action"]: e for e in entries}
    assert set(by_action) == {"case.read", *LISTINGS}
    assert by_action["case.read"]["covers_until"] is None
    for action in LISTINGS:
        entry = by_action[action]
        span = datetime.fromisoformat(entry["covers_until"]) - datetime.fromisoformat(entry["at"])
        assert span == WINDOW
        assert entry["principal_ref"] == reader


async def test_a_student_shown_again_after_the_window_is_recorded_again(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    campus, (lapsed, covered, short) = await seeded(client, pool, 3)
    reader = PSEUDONYMS.person_ref(campus, COUNSELOR_8)
    # Earlier showings, as an earlier tab wrote them: one past its window, one within it,
    # one within the window but written when the window was a minute (its own span is over).
    async with campus_transaction(pool, campus) as conn:
        await conn.executemany(
            "INSERT INTO audit_log (campus_id, principal_ref, role, student_ref, action, at,"
            " covers_seconds) VALUES ($1, $2, 'residence_counselor', $3, 'case.queue.read',"
            " now() - $4::interval, $5)",
            [
                (campus, reader, lapsed, WINDOW + timedelta(minutes=1), 900),
                (campus, reader, covered, timedelta(minutes=5), 900),
                (campus, reader, short, timedelta(minutes=5), 60),
            ],
        )
    before = len(await log(pool, campus))
    counselor = token(SECRET, campus, COUNSELOR_8, Role.RESIDENCE_COUNSELOR)
    await get(client, "/v1/cases", counselor, limit=100)
    added = (await log(pool, campus))[before:]
    assert sorted(r["student_ref"] for r in added) == sorted([lapsed, short])
    assert {r["covers_seconds"] for r in added} == {900}

    # Who may have been shown these students in the last 30 seconds: `covered`'s row of five
    # minutes ago, whose span reaches into them; the others' new rows, not their old ones,
    # whose spans had ended.
    auditor = token(SECRET, campus, "AU01", Role.AUDITOR)
    since = (datetime.now(UTC) - timedelta(seconds=30)).isoformat()
    found = {
        student: [
            e["id"]
            for e in (await get(client, "/v1/audit", auditor, student_ref=student, since=since))[
                "items"
            ]
        ]
        for student in (lapsed, covered, short)
    }
    new = {r["student_ref"]: r["id"] for r in added}
    (earlier,) = [
        r["id"]
        for r in await log(pool, campus)
        if r["student_ref"] == covered and r["action"] == "case.queue.read"
    ]
    assert found == {lapsed: [new[lapsed]], covered: [earlier], short: [new[short]]}


async def test_each_reader_and_each_page_is_recorded_on_its_own(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    campus, refs = await seeded(client, pool, 2)
    counselor = token(SECRET, campus, COUNSELOR_8, Role.RESIDENCE_COUNSELOR)
    center = token(SECRET, campus, CENTER, Role.COUNSELING_CENTER)
    for _ in range(2):
        await get(client, "/v1/cases", counselor)
        await get(client, "/v1/cases", center)
        await get(client, "/v1/alerts/awaiting-me", counselor)
    rows = await log(pool, campus)
    counselor_ref = PSEUDONYMS.person_ref(campus, COUNSELOR_8)
    center_ref = PSEUDONYMS.person_ref(campus, CENTER)
    assert sorted(seen(rows, "case.queue.read", counselor_ref)) == sorted(refs)
    assert sorted(seen(rows, "case.queue.read", center_ref)) == sorted(refs)
    assert sorted(seen(rows, "case.awaiting.read", counselor_ref)) == sorted(refs)
    assert len(rows) == 3 * len(refs)


async def test_single_reads_and_break_the_glass_are_never_coalesced(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    campus, (student,) = await seeded(client, pool, 1)
    counselor = token(SECRET, campus, COUNSELOR_8, Role.RESIDENCE_COUNSELOR)
    case_id = (await get(client, "/v1/cases", counselor))["items"][0]["case_id"]
    outsider = token(SECRET, campus, COUNSELOR_7, Role.RESIDENCE_COUNSELOR)  # 7号楼
    grant = await client.post(
        f"/v1/students/{student}/break-glass",
        json={"reason": "夜间值班接到室友电话，学生失联，需要查看既往记录"},
        headers=outsider,
    )
    assert grant.status_code == 201, grant.text
    for _ in range(3):
        await get(client, f"/v1/cases/{case_id}", counselor)
        await get(client, f"/v1/students/{student}/file", counselor)
        await get(client, f"/v1/cases/{case_id}/history", counselor)
        await get(client, f"/v1/cases/{case_id}", outsider)
        await get(client, f"/v1/students/{student}/file", outsider)
    rows = await log(pool, campus)
    counselor_ref = PSEUDONYMS.person_ref(campus, COUNSELOR_8)
    outsider_ref = PSEUDONYMS.person_ref(campus, COUNSELOR_7)
    for action in ("case.read", "file.read", "case.history.read"):
        assert len(seen(rows, action, counselor_ref)) == 3, action
    glass = [(r["action"], r["break_glass"]) for r in rows if r["principal_ref"] == outsider_ref]
    assert glass.count(("case.read", True)) == 3
    assert glass.count(("file.read", True)) == 3
    assert all(r["covers_seconds"] is None for r in rows if r["action"] not in LISTINGS)


async def test_a_queue_read_is_one_insert_whatever_its_page_size(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    campus, refs = await seeded(client, pool, 12)
    principal = Principal(sub=COUNSELOR_8, role=Role.RESIDENCE_COUNSELOR, campus_id=campus)
    caller = Caller.of(principal, PSEUDONYMS)

    async def read(limit: int, window: timedelta) -> tuple[int, int]:
        """(INSERT statements, audit rows written) of one queue read of `limit` rows."""
        statements: list[str] = []
        before = len(await log(pool, campus))

        def logged(record: Any) -> None:
            statements.append(record.query)

        async with campus_transaction(pool, campus) as conn:
            conn.add_query_logger(logged)
            try:
                rows, _ = await views.queue(
                    conn, caller, QueueFilter(limit=limit), mine=False, audit_window=window
                )
            finally:
                conn.remove_query_logger(logged)
        assert len(rows) == limit
        inserts = [q for q in statements if q.lstrip().upper().startswith("INSERT")]
        return len(inserts), len(await log(pool, campus)) - before

    assert await read(2, WINDOW) == (1, 2)
    assert await read(12, WINDOW) == (1, 10)  # the first two are covered
    assert await read(12, WINDOW) == (1, 0)
    # CASEWORK_AUDIT_LIST_WINDOW_SECONDS=0: every showing recorded, still one statement.
    assert await read(12, timedelta(0)) == (1, 12)
    assert await read(12, timedelta(0)) == (1, 12)
    rows = await log(pool, campus)
    assert sum(1 for r in rows if r["covers_seconds"] is None) == 24
    assert sorted(set(seen(rows, "case.queue.read"))) == sorted(refs)


async def test_counting_my_scope_reads_no_student(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    """The queue's "in my scope" figure: `GET /v1/cases/count` says what the list's `total`
    says, for every caller and filter, and names no one, so it writes no audit row (before, the
    queue listed the top student of the scope to read a total, and audited them)."""
    campus, refs = await seeded(client, pool, 3)
    await open_cases(pool, campus, ["2024030002"])  # 7号楼, its own counselor's
    async with campus_transaction(pool, campus) as conn:  # one case nobody owns
        await conn.execute("UPDATE cases SET owner_ref = NULL WHERE student_ref = $1", refs[0])
    callers = {
        COUNSELOR_8: Role.RESIDENCE_COUNSELOR,
        COUNSELOR_7: Role.RESIDENCE_COUNSELOR,
        CENTER: Role.COUNSELING_CENTER,
        "T4001": Role.COLLEGE_LEADER,  # 土木建筑工程学院: one of the three in 8号楼
    }
    filters: list[dict[str, Any]] = [
        {},
        {"mine": "true"},
        {"unowned": "true"},
        {"severity": ["moderate", "severe"]},
        {"state": "open", "include_closed": "true"},
        {"severity": "severe"},
    ]
    before = await log(pool, campus)
    counts = {
        (sub, i): (await get(client, "/v1/cases/count", token(SECRET, campus, sub, role), **f))
        for sub, role in callers.items()
        for i, f in enumerate(filters)
    }
    assert await log(pool, campus) == before
    assert all(set(answer) == {"total"} for answer in counts.values())
    totals = {
        (sub, i): (await get(client, "/v1/cases", token(SECRET, campus, sub, role), **f))["total"]
        for sub, role in callers.items()
        for i, f in enumerate(filters)
    }
    assert {key: answer["total"] for key, answer in counts.items()} == totals
    # Not trivially equal: the scopes and filters tell the cases apart.
    assert [counts[(sub, 0)]["total"] for sub in callers] == [3, 1, 4, 1]
    assert [counts[(COUNSELOR_8, i)]["total"] for i in range(len(filters))] == [3, 2, 1, 3, 3, 0]
    # Those who work no cases are refused it, as the list.
    for sub, role in (("A001", Role.CAMPUS_ADMIN), ("2024020001", Role.DORM_LEADER)):
        response = await client.get("/v1/cases/count", headers=token(SECRET, campus, sub, role))
        assert response.status_code == 403, response.text
    assert (await client.get("/v1/cases/count")).status_code == 401
