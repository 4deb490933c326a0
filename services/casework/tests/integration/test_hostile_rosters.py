"""Crafted roster files against the real app: refused within the reader's budgets, the limit
named, the service answering other requests meanwhile."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from shouwang_contracts.auth import mint_token
from shouwang_contracts.vocabulary import Role
from shouwang_devstack.hostile_files import dimension_bomb, shared_strings_bomb, wide_row

sys.path.insert(0, str(Path(__file__).parent))  # the shared helpers next to this file
from cases_support import SECRET

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
