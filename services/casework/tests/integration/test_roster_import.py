"""Roster imports against real PostgreSQL and Kafka: all-or-nothing, idempotent, published.

The directory entries go to Kafka through the outbox: the test app runs no relay, so a test
drains the outbox with casework's relay itself.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import io
import json
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import openpyxl
import pytest
from aiokafka import AIOKafkaConsumer
from faststream.kafka import KafkaBroker
from shouwang_casework.adapters import outbox, roster
from shouwang_casework.adapters.db import campus_transaction
from shouwang_casework.config import CaseworkSettings
from shouwang_casework.main import MAX_UPLOAD_BYTES
from shouwang_contracts.auth import mint_token
from shouwang_contracts.pseudonym import PlacementHasher
from shouwang_contracts.topics import DIRECTORY
from shouwang_contracts.vocabulary import Role

sys.path.insert(0, str(Path(__file__).parent))  # the shared helpers next to this file
from cases_support import PLACEMENT_KEY, PSEUDONYMS, SAMPLES, SECRET, in_both_languages

pytestmark = pytest.mark.integration

# This module's casework takes roster files up to 1 MiB (CASEWORK_ROSTER_MAX_UPLOAD_BYTES).
ROSTER_LIMIT = 1024 * 1024


@pytest.fixture(scope="module")
def casework_settings(casework_settings: CaseworkSettings) -> CaseworkSettings:
    return casework_settings.model_copy(update={"roster_max_upload_bytes": ROSTER_LIMIT})


def token(campus: str, role: Role = Role.CAMPUS_ADMIN) -> dict[str, str]:
    return {
        "Authorization": "Bearer " + mint_token(SECRET, sub="A001", role=role, campus_id=campus)
    }


def campus() -> str:
    return f"campus-{uuid.uuid4().hex[:8]}"


async def upload(
    client: httpx.AsyncClient, kind: str, campus_id: str, data: bytes, **params: Any
) -> httpx.Response:
    return await client.post(
        f"/v1/roster/{kind}",
        params=params,
        files={"file": (f"{kind}.csv", data, "text/csv")},
        headers=token(campus_id),
    )


async def table_counts(pool: asyncpg.Pool, campus_id: str) -> dict[str, int]:
    async with campus_transaction(pool, campus_id) as conn:
        return {
            t: await conn.fetchval(f"SELECT count(*) FROM {t}")  # noqa: S608
            for t in ("students", "staff", "staff_assignments", "outbox")
        }


async def test_sample_rosters_import_and_reimport_changes_nothing(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    campus_id = campus()
    students = (SAMPLES / "roster_students.csv").read_bytes()
    staff = (SAMPLES / "roster_staff.csv").read_bytes()

    first = await upload(client, "students", campus_id, students)
    assert first.status_code == 200, first.text
    assert first.json()["counts"] == {
        "rows": 40,
        "created": 40,
        "updated": 0,
        "reactivated": 0,
        "deactivated": 0,
        "unchanged": 0,
        "directory_entries": 40,
    }
    staff_first = await upload(client, "staff", campus_id, staff)
    assert staff_first.status_code == 200, staff_first.text
    assert staff_first.json()["counts"]["added"] == 8
    after_first = await table_counts(pool, campus_id)

    # The same files again, one as GB18030: nothing changes, nothing is published.
    again = await upload(client, "students", campus_id, students.decode().encode("gb18030"))
    staff_again = await upload(client, "staff", campus_id, codecs.BOM_UTF8 + staff)
    assert again.json()["counts"]["unchanged"] == 40
    assert again.json()["counts"]["directory_entries"] == 0
    assert staff_again.json()["counts"] == {
        "rows": 8,
        "people": 8,
        "added": 0,
        "removed": 0,
        "unchanged": 8,
        "people_listed": 0,
        "people_unlisted": 0,
        "scopes_without_students": 0,
        "cases_handed_over": 0,
        "cases_unowned": 0,
        "follow_ups_handed_over": 0,
        "directory_entries": 0,
    }
    assert staff_again.json()["warnings"] == []
    assert await table_counts(pool, campus_id) == after_first

    fetched = await client.get(f"/v1/roster/imports/{again.json()['id']}", headers=token(campus_id))
    assert fetched.json()["status"] == "applied"

    # Core's functions see the imported roster.
    student_ref = PSEUDONYMS.student_ref(campus_id, "2024020001")  # 8号楼 2层 202, 软件2401
    counselor = PSEUDONYMS.person_ref(campus_id, "T1002")  # 8号楼
    dorm_leader = PSEUDONYMS.person_ref(campus_id, "2024020001")
    async with campus_transaction(pool, campus_id) as conn:
        placement = await roster.placement_of(conn, student_ref)
        assert placement is not None
        assert (placement.building, placement.floor, placement.room) == ("8号楼", "2", "202")
        assert await roster.responsible_for(conn, student_ref, "residence_counselor") == [counselor]
        assert await roster.responsible_for(conn, student_ref, "dorm_leader") == [dorm_leader]
        assert [str(g) for g in await roster.scope_of(conn, counselor)] == ["building:8号楼"]


async def test_bad_rows_are_reported_by_number_and_change_nothing(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    campus_id = campus()
    good = (SAMPLES / "roster_students.csv").read_bytes()
    assert (await upload(client, "students", campus_id, good)).status_code == 200
    before = await table_counts(pool, campus_id)

    lines = good.decode().splitlines()
    lines[1] = lines[1].replace("测试学生01", "改了名字")  # a valid change, must not land
    lines[3] = ",".join(["", *lines[3].split(",")[1:]])  # row 4: no 学号
    lines[5] = lines[5].replace(",1,106", ",五楼,106")  # row 6: floor unreadable
    bad = ("\n".join(lines) + "\n").encode()

    response = await upload(client, "students", campus_id, bad, mode="upsert")

    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == "roster_rows_invalid"
    assert [(e["row"], e["field"]) for e in problem["errors"]] == [(4, "student_no"), (6, "floor")]
    assert problem["errors"][0]["message"] == "缺少学号"
    assert await table_counts(pool, campus_id) == before
    record = await client.get(response.headers["location"], headers=token(campus_id))
    assert record.json()["status"] == "rejected"
    assert len(record.json()["errors"]) == 2
    listed = await client.get("/v1/roster/imports", headers=token(campus_id))
    assert [(i["status"], i["errors"]) for i in listed.json()["items"]] == [
        ("rejected", 2),
        ("applied", 0),
    ]

    english = await client.post(
        "/v1/roster/students",
        files={"file": ("s.csv", bad, "text/csv")},
        headers={**token(campus_id), "Accept-Language": "en"},
    )
    assert english.json()["errors"][0]["message"] == "student number is missing"


async def test_upload_errors_are_problems(client: httpx.AsyncClient) -> None:
    campus_id = campus()
    too_big = await client.post(
        "/v1/roster/students",
        files={"file": ("s.csv", b"a" * (ROSTER_LIMIT + 1), "text/csv")},
        headers=token(campus_id),
    )
    wrong_type = await client.post(
        "/v1/roster/students",
        files={"file": ("p.png", b"\x89PNG\r\n\x1a\n", "image/png")},
        headers=token(campus_id),
    )
    legacy = await client.post(
        "/v1/roster/students",
        files={"file": ("s.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64, "")},
        headers=token(campus_id),
    )
    counselor = await client.post(
        "/v1/roster/students",
        files={"file": ("s.csv", b"x", "text/csv")},
        headers=token(campus_id, Role.RESIDENCE_COUNSELOR),
    )
    huge = await client.post(
        "/v1/roster/staff",
        files={"file": ("s.csv", b"a" * (MAX_UPLOAD_BYTES + 1), "text/csv")},
        headers=token(campus_id),
    )
    assert (too_big.status_code, wrong_type.status_code, legacy.status_code) == (413, 415, 415)
    assert too_big.json()["code"] == "file_too_large"  # the configured limit, named in MiB
    assert "1 MiB" in too_big.json()["detail"]
    assert huge.status_code == 413
    assert huge.headers["content-type"].startswith("application/problem+json")

    async def chunked_body() -> AsyncIterator[bytes]:  # no Content-Length: counted as it streams
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="s.csv"\r\n\r\n'
        for _ in range(MAX_UPLOAD_BYTES // (1024 * 1024) + 2):
            yield b"a" * (1024 * 1024)
        yield b"\r\n--b--\r\n"

    streamed = await client.post(
        "/v1/roster/students",
        content=chunked_body(),
        headers={**token(campus_id), "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert streamed.status_code == 413
    # The edge stops a body over the roster's limit while it streams, before the route.
    assert streamed.json()["code"] == "body_too_large"
    assert legacy.json()["code"] == "legacy_excel"
    assert counselor.status_code == 403


async def test_roster_refusals_are_chinese_unless_english_comes_first(
    client: httpx.AsyncClient,
) -> None:
    campus_id = campus()
    admin = token(campus_id)

    def a_file(data: bytes, content_type: str = "text/csv") -> dict[str, Any]:
        return {"files": {"file": ("s.csv", data, content_type)}}

    await in_both_languages(
        client,
        "POST",
        "/v1/roster/students",
        token(campus_id, Role.RESIDENCE_COUNSELOR),
        403,
        "role_forbidden",
        **a_file(b"x"),
    )
    chinese, _ = await in_both_languages(
        client, "GET", f"/v1/roster/imports/{uuid.uuid4()}", admin, 404, "import_not_found"
    )
    assert chinese["detail"] == "没有这条导入记录"
    await in_both_languages(
        client, "POST", "/v1/roster/students", admin, 422, "empty_file", **a_file(b"")
    )
    await in_both_languages(
        client,
        "POST",
        "/v1/roster/students",
        admin,
        415,
        "unsupported_file_type",
        **a_file(b"\x89PNG\r\n\x1a\n", "image/png"),
    )
    # Bad rows: the detail and every row's message follow the language.
    header = (SAMPLES / "roster_students.csv").read_text(encoding="utf-8").splitlines()[0]
    bad = f"{header}\n,无学号,男,信息工程学院,软件技术,软件2401,主校区,8号楼,2,202\n"
    chinese, english = await in_both_languages(
        client,
        "POST",
        "/v1/roster/students",
        admin,
        422,
        "roster_rows_invalid",
        **a_file(bad.encode()),
    )
    assert chinese["errors"][0]["message"] == "缺少学号"
    assert english["errors"][0]["message"] == "student number is missing"
    assert "message_en" not in chinese["errors"][0]


async def test_a_snapshot_without_a_student_deactivates_them_and_dry_run_writes_nothing(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    campus_id = campus()
    good = (SAMPLES / "roster_students.csv").read_bytes()
    await upload(client, "students", campus_id, good)
    without_last = b"\n".join(good.rstrip(b"\n").split(b"\n")[:-1]) + b"\n"

    dry = await upload(client, "students", campus_id, without_last, dry_run="true")
    assert dry.json()["status"] == "dry_run"
    assert dry.json()["counts"]["deactivated"] == 1
    async with campus_transaction(pool, campus_id) as conn:
        assert await conn.fetchval("SELECT count(*) FROM students WHERE NOT active") == 0
    real = await upload(client, "students", campus_id, without_last)
    assert real.json()["counts"]["deactivated"] == 1
    async with campus_transaction(pool, campus_id) as conn:
        assert await conn.fetchval("SELECT count(*) FROM students WHERE NOT active") == 1


async def test_a_scope_no_student_lives_in_is_imported_with_a_warning(
    client: httpx.AsyncClient,
) -> None:
    campus_id = campus()
    await upload(client, "students", campus_id, (SAMPLES / "roster_students.csv").read_bytes())
    staff = "工号,姓名,角色,范围类型,范围\nT1,甲,公寓辅导员,楼栋,8栋\nT2,乙,公寓辅导员,楼栋,8号楼\n"

    response = await upload(client, "staff", campus_id, staff.encode())

    assert response.status_code == 200
    assert response.json()["counts"]["added"] == 2
    assert [w["scope"] for w in response.json()["warnings"]] == ["building:8栋"]


async def test_another_campus_rows_are_invisible_under_rls(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    campus_id = campus()
    await upload(client, "students", campus_id, (SAMPLES / "roster_students.csv").read_bytes())
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT current_user") == "casework"
        async with conn.transaction():
            await conn.execute("SELECT set_config('shouwang.campus_id', 'another-campus', true)")
            for table in ("students", "staff", "staff_assignments", "roster_imports"):
                rows = await conn.fetch(f"SELECT * FROM {table} WHERE campus_id = $1", campus_id)  # noqa: S608
                assert rows == [], table
        # No campus set at all: nothing either.
        assert await conn.fetchval("SELECT count(*) FROM students") == 0


async def relay_outbox(pool: asyncpg.Pool, bootstrap: str) -> int:
    """Publish the unpublished outbox rows with casework's relay (the test app runs none)."""
    broker = KafkaBroker(bootstrap, logger=None)
    await broker.start()
    relay = outbox.outbox_relay(pool, broker, batch=10_000, poll_seconds=1.0)
    try:
        return await relay.drain_once(outbox.LANE)
    finally:
        await relay.resign(outbox.LANE)
        await broker.stop()


async def test_directory_entries_reach_the_topic_without_names(
    client: httpx.AsyncClient, pool: asyncpg.Pool, kafka_bootstrap: str
) -> None:
    campus_id = campus()
    await upload(client, "students", campus_id, (SAMPLES / "roster_students.csv").read_bytes())
    await upload(client, "staff", campus_id, (SAMPLES / "roster_staff.csv").read_bytes())
    assert await relay_outbox(pool, kafka_bootstrap) > 0

    consumer = AIOKafkaConsumer(
        DIRECTORY, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    student_ref = PSEUDONYMS.student_ref(campus_id, "2024020001")
    latest: dict[str, Any] | None = None
    raw: list[bytes] = []
    try:
        async with asyncio.timeout(30):
            while latest is None or len(latest["data"]["responsible"]) < 4:
                batch = await consumer.getmany(timeout_ms=1000)
                for records in batch.values():
                    for record in records:
                        if record.key == f"{campus_id}:{student_ref}".encode():
                            raw.append(record.value)
                            latest = json.loads(record.value)
    finally:
        await consumer.stop()

    assert latest is not None
    assert latest["type"] == "shouwang.directory.routing"
    data = latest["data"]
    # The college in the clear (stats group by it); the finer placement only as keyed hashes.
    assert (data["college"], data["active"]) == ("信息工程学院", True)
    assert not {"class_name", "building", "floor", "room"} & set(data)
    hasher = PlacementHasher(PLACEMENT_KEY.encode())
    assert data["placement_refs"] == [
        hasher.placement_ref(campus_id, grant)
        for grant in ("class:软件2401", "building:8号楼", "floor:8号楼/2", "room:8号楼/202")
    ]
    roles = [r["role"] for r in data["responsible"]]
    assert roles == [
        "dorm_leader",
        "residence_counselor",
        "community_psych_teacher",
        "counseling_center",
    ]
    for value in raw:
        text = value.decode()
        for secret in ("测试", "2024020001", "T1002", "8号楼", "软件2401"):
            assert secret not in text


async def test_an_xlsx_roster_imports_like_the_csv_and_a_leaver_is_published_inactive(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    campus_id = campus()
    rows = list(csv.reader(io.StringIO((SAMPLES / "roster_students.csv").read_text("utf-8"))))
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append([int(c) if c.isdigit() else c for c in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    xlsx_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

    response = await client.post(
        "/v1/roster/students",
        files={"file": ("students.xlsx", buffer.getvalue(), xlsx_type)},
        headers=token(campus_id),
    )
    assert response.status_code == 200, response.text
    assert response.json()["counts"]["created"] == 40
    csv_again = await upload(
        client, "students", campus_id, (SAMPLES / "roster_students.csv").read_bytes()
    )
    assert csv_again.json()["counts"]["unchanged"] == 40

    leaver = rows[-1][0]
    without_leaver = "\n".join(",".join(r) for r in rows[:-1]).encode()
    await upload(client, "students", campus_id, without_leaver)
    leaver_key = f"{campus_id}:{PSEUDONYMS.student_ref(campus_id, leaver)}".encode()
    async with campus_transaction(pool, campus_id) as conn:
        payloads = await conn.fetch(
            "SELECT payload FROM outbox WHERE key = $1 ORDER BY id", leaver_key
        )
    assert [json.loads(p[0])["data"]["active"] for p in payloads] == [True, False]


async def test_a_gbk_export_with_a_noted_header_imports_unchanged_and_excel_numbers_are_named(
    client: httpx.AsyncClient,
) -> None:
    """The sample as a Chinese Windows Excel saves it (GBK, `*学号（必填）`, `楼层(层)`, rows
    numbered past the data) changes nothing of the sample already imported, placements
    included; the same file with a 学号 in scientific notation is a 422 naming the row and
    column in zh-CN and saying what to do."""
    campus_id = campus()
    sample = (SAMPLES / "roster_students.csv").read_text("utf-8").splitlines()
    assert (await upload(client, "students", campus_id, "\n".join(sample).encode())).is_success
    header = sample[0].replace("学号", "*学号（必填）").replace("楼层", "楼层(层)")
    rows = [f"序号,{header}"] + [f"{i},{line}" for i, line in enumerate(sample[1:], 1)]
    rows += [f"{n}," + "," * 9 for n in range(len(sample), len(sample) + 3)]

    again = await upload(client, "students", campus_id, "\r\n".join(rows).encode("gbk"))

    assert again.status_code == 200, again.text
    assert again.json()["counts"]["unchanged"] == len(sample) - 1
    rows[5] = rows[5].replace(sample[5].split(",")[0], "2.02402E+09", 1)
    refused = await upload(client, "students", campus_id, "\r\n".join(rows).encode("gbk"))
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    ((error,),) = [refused.json()["errors"]]
    assert (error["row"], error["field"]) == (6, "student_no")
    assert error["message"].startswith("学号被 Excel 写成了科学计数法：2.02402E+09")
    assert "设为“文本”格式后重新导出" in error["message"]
