"""The outcomes API, served by a real stats process over the seed's year.

The projection is filled by copying the seed year's rows into a fresh database (the Kafka path
is proven in test_live_consumers.py); the process then serves it as in production.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import AsyncIterator, Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
from openpyxl import load_workbook
from shouwang_contracts.auth import mint_token
from shouwang_contracts.vocabulary import Role
from shouwang_devstack.services import ServiceProcess
from shouwang_stats.adapters import generations
from shouwang_stats.adapters.rows import copy_generation
from shouwang_stats.domain.projection import CaseRow, Projection
from shouwang_stats.domain.suppression import Line, determined
from shouwang_stats.service_layer.events import rows_of
from shouwang_stats.service_layer.rebuild import PROJECTION_VERSION
from stats_seed_year import SeedYear, seed_year

pytestmark = pytest.mark.integration

YEAR = seed_year()
OTHER = seed_year()  # a second campus, whose staff must not read the first


@pytest.fixture(scope="module")
async def stats(
    service_database: Any, module_service_process: Callable[..., ServiceProcess]
) -> ServiceProcess:
    dsn = await service_database("stats")
    conn = await asyncpg.connect(dsn)
    try:
        generation = await generations.ensure_active(conn, PROJECTION_VERSION)
        projection = Projection()
        for year in (YEAR, OTHER):
            for envelope in year.events:
                projection.fold_all(rows_of(envelope.to_bytes(), envelope.kafka_headers()))
        await copy_generation(conn, generation.generation, projection)
    finally:
        await conn.close()
    process = module_service_process("stats", {"STATS_DATABASE_URL": dsn})
    await process.start_async()
    return process


@pytest.fixture(scope="module")
def secret(devstack_env: dict[str, str]) -> str:
    return devstack_env["SHOUWANG_JWT_SECRET"]


@pytest.fixture
async def client(stats: ServiceProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stats.base_url, timeout=30) as client:
        yield client


def auth(secret: str, role: Role, campus: str, scope: list[str] | None = None) -> dict[str, str]:
    token = mint_token(secret, sub="staff-1", role=role, campus_id=campus, scope=scope)
    return {"Authorization": f"Bearer {token}"}


def grades(row: dict[str, Any]) -> list[Any]:
    return [row["found"][g]["value"] for g in ("severe", "moderate", "mild")]


async def test_the_seed_years_table_for_the_campus(client: httpx.AsyncClient, secret: str) -> None:
    staff = auth(secret, Role.COUNSELING_CENTER, YEAR.campus_id)
    answer = await client.get("/v1/outcomes/annual", params={"year": 2025}, headers=staff)
    assert answer.status_code == 200, answer.text
    table = answer.json()
    [row] = table["rows"]
    # The seed's 5 severe and 12 moderate events fall 2+2+1 and 4+4+4 over three colleges,
    # each shown “<5” in the table by college: 12 beside three cells of fewer than five gives
    # each away as exactly 4. Every answer shows a figure the same way, so the campus's own
    # row hides them too (and severe beside them); the year's total and mild stay exact.
    assert grades(row) == [None, None, 33]
    assert [row["found"][g]["display"] for g in ("severe", "moderate")] == ["*", "*"]
    assert (row["found_total"]["value"], row["relieved"]["value"]) == (50, 64)
    assert [c["label"] for c in table["columns"]] == ["重度", "中度", "轻度"]
    assert table["scope"] == {"campus_id": YEAR.campus_id, "colleges": None}
    english = await client.get(
        "/v1/outcomes/annual",
        params={"year": 2025},
        headers={**staff, "Accept-Language": "en"},
    )
    assert [c["label"] for c in english.json()["columns"]] == ["Severe", "Moderate", "Mild"]


async def test_small_college_cells_are_hidden_and_cannot_be_worked_out(
    client: httpx.AsyncClient, secret: str
) -> None:
    staff = auth(secret, Role.CAMPUS_ADMIN, YEAR.campus_id)
    table = (
        await client.get(
            "/v1/outcomes/annual", params={"year": 2025, "by": "college"}, headers=staff
        )
    ).json()
    assert {r["label"] for r in table["rows"]} == set(YEAR.colleges.values())
    cells = {
        (r["id"], g): r["found"][g] for r in (*table["rows"], table["totals"]) for g in r["found"]
    }
    small = [key for key, cell in cells.items() if cell["hidden"] == "small"]
    assert small, "five severe events over three colleges leave a college with fewer than five"
    for key in small:
        assert cells[key]["display"] == "<5"
        assert cells[key]["value"] is None
    # No hidden small cell follows from what is shown and the table's sums.
    hidden = {key: cell["hidden"] for key, cell in cells.items() if cell["hidden"]}
    hidden |= {
        (r["id"], "total"): r["found_total"]["hidden"]
        for r in (*table["rows"], table["totals"])
        if r["found_total"]["hidden"]
    }
    rows = [r["id"] for r in table["rows"]]
    lines = [
        Line(tuple((r, g) for g in ("severe", "moderate", "mild")), (r, "total")) for r in rows
    ]
    lines += [
        Line(tuple((r, g) for r in rows), ("total", g)) for g in ("severe", "moderate", "mild")
    ]
    lines.append(Line(tuple((r, "total") for r in rows), ("total", "total")))
    lines.append(
        Line(tuple(("total", g) for g in ("severe", "moderate", "mild")), ("total", "total"))
    )
    assert not [k for k in determined(hidden, lines) if hidden[k] == "small"]  # type: ignore[arg-type]


async def test_the_xlsx_and_csv_hold_the_same_numbers_as_the_json(
    client: httpx.AsyncClient, secret: str
) -> None:
    staff = auth(secret, Role.COUNSELING_CENTER, YEAR.campus_id)
    params: dict[str, Any] = {"year": 2025, "by": "college"}
    table = (await client.get("/v1/outcomes/annual", params=params, headers=staff)).json()
    expected = [
        [r["label"], *(c["value"] if c["value"] is not None else c["display"]
                       for c in (*r["found"].values(), r["found_total"], r["relieved"]))]
        for r in (*table["rows"], table["totals"])
    ]  # fmt: skip

    xlsx = await client.get(
        "/v1/outcomes/annual", params={**params, "format": "xlsx"}, headers=staff
    )
    assert xlsx.status_code == 200, xlsx.text
    assert "attachment" in xlsx.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    rows = [
        list(r) for r in sheet.iter_rows(min_row=3, max_row=2 + len(expected), values_only=True)
    ]
    assert rows == expected

    raw = await client.get("/v1/outcomes/annual", params={**params, "format": "csv"}, headers=staff)
    assert raw.headers["content-type"].startswith("text/csv")
    parsed = list(csv.reader(io.StringIO(raw.content.decode("utf-8-sig"))))[2 : 2 + len(expected)]
    assert parsed == [[str(v) for v in row] for row in expected]


async def test_a_campus_staff_cannot_read_another_campus(
    client: httpx.AsyncClient, secret: str
) -> None:
    theirs = auth(secret, Role.COUNSELING_CENTER, OTHER.campus_id)
    refused = await client.get(
        "/v1/outcomes/annual",
        params={"year": 2025, "campus_id": YEAR.campus_id},
        headers={**theirs, "Accept-Language": "en"},
    )
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == "campus_forbidden"
    comparing = await client.get(
        "/v1/outcomes/annual", params={"year": 2025, "by": "campus"}, headers=theirs
    )
    assert comparing.json()["code"] == "campus_comparison_forbidden"
    own = (await client.get("/v1/outcomes/annual", params={"year": 2025}, headers=theirs)).json()
    assert own["scope"]["campus_id"] == OTHER.campus_id


async def test_a_platform_admin_compares_campuses(client: httpx.AsyncClient, secret: str) -> None:
    admin = auth(secret, Role.PLATFORM_ADMIN, "platform")
    table = (
        await client.get(
            "/v1/outcomes/annual", params={"year": 2025, "by": "campus"}, headers=admin
        )
    ).json()
    by_campus = {r["id"]: r for r in table["rows"]}
    # As each campus reads them (see test_the_seed_years_table_for_the_campus).
    assert grades(by_campus[YEAR.campus_id]) == [None, None, 33]
    assert grades(by_campus[OTHER.campus_id]) == [None, None, 33]
    assert table["totals"]["found"]["severe"]["value"] >= 10  # every campus's: exact


async def test_a_college_leader_reads_only_the_college_granted(
    client: httpx.AsyncClient, secret: str
) -> None:
    leader = auth(secret, Role.COLLEGE_LEADER, YEAR.campus_id, ["college:医学院"])
    own = (await client.get("/v1/outcomes/annual", params={"year": 2025}, headers=leader)).json()
    assert own["scope"]["colleges"] == ["医学院"]
    projection = Projection()
    for envelope in YEAR.events:
        projection.fold_all(rows_of(envelope.to_bytes(), envelope.kafka_headers()))
    cases = [
        c for c in projection.rows[CaseRow].values() if YEAR.colleges[c.student_ref] == "医学院"
    ]
    assert own["rows"][0]["found_total"]["value"] == len(cases) < 50
    other = await client.get(
        "/v1/outcomes/annual",
        params={"year": 2025, "college": "信息工程学院"},
        headers=leader,
    )
    assert (other.status_code, other.json()["code"]) == (403, "college_forbidden")


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "missing_token"),
        ({"Authorization": "Bearer nonsense"}, 401, "invalid_token"),
    ],
)
async def test_no_figures_without_a_valid_token(
    client: httpx.AsyncClient, headers: dict[str, str], status: int, code: str
) -> None:
    answer = await client.get("/v1/outcomes/annual", headers=headers)
    assert (answer.status_code, answer.json()["code"]) == (status, code)


@pytest.mark.parametrize("role", [Role.DORM_LEADER, Role.CLASS_WELLBEING_OFFICER, Role.AUDITOR])
async def test_students_and_auditors_read_no_outcomes(
    client: httpx.AsyncClient, secret: str, role: Role
) -> None:
    answer = await client.get("/v1/outcomes/trends", headers=auth(secret, role, YEAR.campus_id))
    assert (answer.status_code, answer.json()["code"]) == (403, "role_forbidden")
    assert "无权" in answer.json()["detail"]


async def test_a_malformed_period_is_a_clear_422_in_either_language(
    client: httpx.AsyncClient, secret: str
) -> None:
    staff = auth(secret, Role.COUNSELING_CENTER, YEAR.campus_id)
    backwards = await client.get(
        "/v1/outcomes/cycle-times", params={"from": "2025-06", "to": "2025-01"}, headers=staff
    )
    assert (backwards.status_code, backwards.json()["code"]) == (422, "invalid_period")
    assert "起始月份" in backwards.json()["detail"]
    english = await client.get(
        "/v1/outcomes/cycle-times",
        params={"from": "2025-13"},
        headers={**staff, "Accept-Language": "en"},
    )
    assert english.status_code == 422
    assert "month" in english.json()["detail"]


@pytest.mark.parametrize(
    "path",
    [
        "annual",
        "events-found",
        "cycle-times",
        "escalations",
        "completion",
        "open-cases",
        "notifications",
        "trends",
    ],
)
async def test_every_report_checks_the_scope_before_its_parameters(
    client: httpx.AsyncClient, secret: str, path: str
) -> None:
    """The reports share one renderer: each refuses another campus's reader first, and a
    malformed period after the scope is settled."""
    theirs = auth(secret, Role.COUNSELING_CENTER, OTHER.campus_id)
    refused = await client.get(
        f"/v1/outcomes/{path}",
        params={"campus_id": YEAR.campus_id, "from": "2025-06", "to": "2025-01"},
        headers=theirs,
    )
    assert (refused.status_code, refused.json()["code"]) == (403, "campus_forbidden")
    own = await client.get(
        f"/v1/outcomes/{path}", params={"from": "2025-06", "to": "2025-01"}, headers=theirs
    )
    if path in ("annual", "open-cases"):  # neither reads `from` and `to`
        assert own.status_code == 200
        assert own.json()["scope"]["campus_id"] == OTHER.campus_id
    else:
        assert (own.status_code, own.json()["code"]) == (422, "invalid_period")


async def test_only_platform_admins_compare_campuses_in_events_found(
    client: httpx.AsyncClient, secret: str
) -> None:
    params = {"from": "2025-01", "to": "2025-12", "by": "campus"}
    staff = auth(secret, Role.COUNSELING_CENTER, YEAR.campus_id)
    refused = await client.get("/v1/outcomes/events-found", params=params, headers=staff)
    assert (refused.status_code, refused.json()["code"]) == (403, "campus_comparison_forbidden")
    admin = auth(secret, Role.PLATFORM_ADMIN, "platform")
    table = await client.get("/v1/outcomes/events-found", params=params, headers=admin)
    assert table.status_code == 200
    assert {r["id"] for r in table.json()["table"]["rows"]} >= {YEAR.campus_id, OTHER.campus_id}


async def test_the_year_in_progress_is_live_to_the_center_and_as_of_last_month_to_others(
    client: httpx.AsyncClient, secret: str
) -> None:
    def days() -> tuple[date, date]:
        today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
        return today, today.replace(day=1) - timedelta(days=1)

    before = days()
    center = await client.get(
        "/v1/outcomes/annual", headers=auth(secret, Role.COUNSELING_CENTER, YEAR.campus_id)
    )
    admin = await client.get(
        "/v1/outcomes/annual", headers=auth(secret, Role.CAMPUS_ADMIN, YEAR.campus_id)
    )
    after = days()  # the two answers may fall on either side of midnight
    assert center.json()["as_of"] in {before[0].isoformat(), after[0].isoformat()}
    assert admin.json()["as_of"] in {before[1].isoformat(), after[1].isoformat()}


async def test_a_nul_byte_in_a_college_or_campus_is_a_422_not_a_500(
    client: httpx.AsyncClient, secret: str
) -> None:
    staff = auth(secret, Role.COUNSELING_CENTER, YEAR.campus_id)
    for params in ({"college": "信息\x00学院"}, {"campus_id": "a\x00b"}, {"college": "x\ny"}):
        answer = await client.get("/v1/outcomes/open-cases", params=params, headers=staff)
        assert answer.status_code == 422, (params, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")


async def test_every_report_answers_for_the_seed_year(
    client: httpx.AsyncClient, secret: str
) -> None:
    staff = auth(secret, Role.COUNSELING_CENTER, YEAR.campus_id)
    year: SeedYear = YEAR
    window = {"from": "2025-01", "to": "2025-12"}

    found = (
        await client.get(
            "/v1/outcomes/events-found", params={**window, "by": "source"}, headers=staff
        )
    ).json()
    assert found["table"]["totals"]["total"]["value"] == 50
    assert (found["period"], found["as_of"]) == ("2025", "2025-12-31")  # a closed year: whole
    assert {r["id"] for r in found["table"]["rows"]} >= {"census", "dorm_leader"}

    cycles = (await client.get("/v1/outcomes/cycle-times", params=window, headers=staff)).json()
    legs = {leg["id"]: leg for leg in cycles["legs"]}
    assert legs["graded__acknowledged"]["count"]["value"] == 50
    assert legs["graded__acknowledged"]["shown"]
    assert legs["intervened__referral_answered"]["count"]["value"] == 5

    escalations = (
        await client.get("/v1/outcomes/escalations", params=window, headers=staff)
    ).json()
    assert escalations["breaches"]["totals"]["total"]["value"] == year.escalations

    done = (await client.get("/v1/outcomes/completion", params=window, headers=staff)).json()
    assert done["referrals"]["total"]["display"] in ("5", "<5")
    assert done["follow_ups"]["rows"][0]["id"] == "on_time"

    open_now = (await client.get("/v1/outcomes/open-cases", headers=staff)).json()
    assert open_now["table"]["totals"]["total"]["display"] == "<5"
    assert open_now["as_of"] is None  # figures of now

    trends = (await client.get("/v1/outcomes/trends", params=window, headers=staff)).json()
    assert [m["month"] for m in trends["months"]][:2] == ["2025-01", "2025-02"]
    total = sum(m["found_total"]["value"] or 0 for m in trends["months"])
    assert total <= 50  # hidden months count nothing here

    sent = (await client.get("/v1/outcomes/notifications", params=window, headers=staff)).json()
    by_channel = {r["id"]: r for r in sent["outcomes"]["rows"]}
    assert by_channel["sms"]["cells"]["failed"]["display"] == "<5"
    # Five WeCom deliveries beside one failed SMS in so small a table: showing them would give
    # the failure away by subtraction, so they are hidden too.
    assert by_channel["wecom"]["cells"]["delivered"]["hidden"] == "complementary"
    [wecom] = [d for d in sent["delivery"] if d["channel"] == "wecom"]
    # The count of deliveries is that hidden cell: it is hidden the same way.
    assert (wecom["count"]["value"], wecom["count"]["display"]) == (None, "*")
    assert wecom["seconds"]["p50"] == statistics.median(year.delivery_seconds) == 15


async def test_a_delivery_time_does_not_count_a_hidden_cell(
    client: httpx.AsyncClient, secret: str
) -> None:
    # A channel's deliveries are the outcomes table's delivered cell; shown beside the
    # delivery times they undid the complement that keeps one failed SMS from being worked out.
    staff = auth(secret, Role.COUNSELING_CENTER, YEAR.campus_id)
    sent = (
        await client.get("/v1/outcomes/notifications", params={"from": "2025"}, headers=staff)
    ).json()
    cells = {r["id"]: r["cells"]["delivered"] for r in sent["outcomes"]["rows"]}
    assert cells["wecom"]["hidden"] == "complementary"
    for delivery in sent["delivery"]:
        assert delivery["count"] == cells[delivery["channel"]], delivery["channel"]


async def test_the_api_documents_every_operation_with_its_token_and_problems(
    client: httpx.AsyncClient,
) -> None:
    spec = (await client.get("/openapi.json")).json()
    operations = {op["operationId"]: op for path in spec["paths"].values() for op in path.values()}
    assert {
        "annual_outcomes",
        "events_found",
        "cycle_times",
        "escalations",
        "completion",
        "open_cases",
        "notification_outcomes",
        "trends",
    } <= set(operations)
    for op in operations.values():
        assert op.get("security"), op["operationId"]
        assert {"401", "403", "422"} <= set(op["responses"]), op["operationId"]
    annual = operations["annual_outcomes"]["responses"]["200"]["content"]
    assert {"application/json", "text/csv"} <= set(annual)
