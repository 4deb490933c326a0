"""Crafted roster files against the real app: refused within the reader's budgets, the limit
named, the service answering other requests meanwhile; a row widening a peer's scope refused."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest
from shouwang_casework.adapters.db import campus_transaction
from shouwang_contracts.auth import mint_token
from shouwang_contracts.vocabulary import Role
from shouwang_devstack.hostile_files import dimension_bomb, shared_strings_bomb, wide_row

sys.path.insert(0, str(Path(__file__).parent))  # the shared helpers next to this file
from cases_support import SAMPLES, SECRET

pytestmark = pytest.mark.integration
HEADER = ["学号", "姓名", "性别", "学院", "专业", "班级", "校区", "楼栋", "楼层", "寝室"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _admin(campus_id: str) -> dict[str, str]:
    jwt = mint_token(SECRET, sub="A001", role=Role.CAMPUS_ADMIN, campus_id=campus_id)
    return {"Authorization": f"Bearer {jwt}", "Accept-Language": "en"}


@pytest.mark.parametrize(
    ("build", "code"),
    [
        (lambda: dimension_bomb(HEADER), "too_many_rows"),
        (lambda: wide_row(HEADER, "XFD"), "too_many_columns"),
        (lambda: shared_strings_bomb(HEADER, 300), "xlsx_unpacks_too_large"),
    ],
    ids=["dimension-claims-the-grid", "a-cell-in-the-last-column", "shared-strings-bomb"],
)
async def test_a_crafted_xlsx_roster_is_refused_and_the_service_answers_meanwhile(
    client: httpx.AsyncClient, build, code: str
) -> None:
    campus_id = f"campus-{uuid.uuid4().hex[:8]}"
    bomb = await asyncio.to_thread(build)
    started = time.perf_counter()
    upload = asyncio.create_task(
        client.post(
            "/v1/roster/students",
            files={"file": ("名单.xlsx", bomb, XLSX)},
            headers=_admin(campus_id),
        )
    )
    meanwhile = []
    while not upload.done() or not meanwhile:
        answer = await client.get("/v1/roster/imports", headers=_admin(campus_id))
        meanwhile.append(answer.status_code)
    refused = await asyncio.wait_for(upload, 60)  # a deadline, not a benchmark
    print(f"{code}: refused in {time.perf_counter() - started:.2f} s")

    assert refused.status_code == 413, refused.text
    assert refused.json()["code"] == code
    assert set(meanwhile) == {200}
    # Nothing was imported, not even the header.
    imports = await client.get("/v1/roster/imports", headers=_admin(campus_id))
    assert imports.json()["items"] == []


async def test_a_roster_row_giving_a_peer_a_college_scope_is_refused(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    """A staff roster giving a dorm-room leader (a student) a whole college: as an
    assignment it is a grant in that role (`ROLE_GRANTS` allows a room only), and the peer
    would be shown, and alerted about, every student of the college. The row is refused
    like the import's other row errors: the whole file, by row number, nothing applied."""
    campus_id = f"campus-{uuid.uuid4().hex[:8]}"
    admin = _admin(campus_id)
    for kind in ("students", "staff"):  # the shipped samples import cleanly
        sample = (SAMPLES / f"roster_{kind}.csv").read_bytes()
        answer = await client.post(
            f"/v1/roster/{kind}", files={"file": (f"{kind}.csv", sample, "text/csv")}, headers=admin
        )
        assert answer.status_code == 200, answer.text
    before = await _assignments(pool, campus_id)
    staff = (SAMPLES / "roster_staff.csv").read_text("utf-8")
    widened = staff + "2024020004,测试学生04,寝室长,学院,土木建筑工程学院\n"  # row 10

    refused = await client.post(
        "/v1/roster/staff",
        files={"file": ("staff.csv", widened.encode(), "text/csv")},
        headers={**admin, "Accept-Language": "zh-CN"},
    )

    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["code"] == "roster_rows_invalid"
    assert [(e["row"], e["field"], e["code"]) for e in problem["errors"]] == [
        (10, "scope_kind", "scope_not_allowed_for_role")
    ]
    assert (
        problem["errors"][0]["message"] == "寝室长不能负责学院范围（寝室长可负责的范围类型：寝室）"
    )
    assert await _assignments(pool, campus_id) == before
    english = await client.post(
        "/v1/roster/staff",
        files={"file": ("staff.csv", widened.encode(), "text/csv")},
        headers=admin,
    )
    assert english.json()["errors"][0]["message"] == (
        "a dorm-room leader may not hold a college scope (scope types for this role: room)"
    )


async def _assignments(pool: asyncpg.Pool, campus_id: str) -> list[tuple[str, str, str]]:
    async with campus_transaction(pool, campus_id) as conn:
        rows = await conn.fetch(
            "SELECT role, scope_kind, scope_value FROM staff_assignments ORDER BY 1, 2, 3"
        )
    return [(r[0], r[1], r[2]) for r in rows]
