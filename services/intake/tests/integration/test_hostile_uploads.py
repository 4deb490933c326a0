"""Hostile census files and a reporter who will not stop, against the real intake process.

The census is parsed by the kit's worker process within its budgets, so a crafted XLSX is
refused with the limit it broke named, and reports sent meanwhile are answered as usual.
"""

from __future__ import annotations

import asyncio
import io
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from shouwang_contracts.vocabulary import Role
from shouwang_devstack.hostile_files import dimension_bomb, shared_strings_bomb

from .census_builders import HEADER

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture(scope="module")
def intake_extra_env() -> dict[str, str]:
    # Six an hour, two at once: small enough for a test to reach.
    return {"INTAKE_REPORTS_PER_REPORTER_PER_HOUR": "6"}


def _report() -> dict[str, object]:
    return {
        "campus_id": "demo",
        "student_no": "2024020001",
        "signals": ["hopelessness"],
        "observed_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
    }


async def _reports_meanwhile(
    client: httpx.AsyncClient, token, upload: asyncio.Task[httpx.Response]
) -> list[tuple[int, float]]:
    """Reports (each from another reporter) sent while the upload is being handled: their
    statuses and how long each took."""
    answered: list[tuple[int, float]] = []
    n = 0
    while not upload.done() or n < 2:
        n += 1
        started = time.perf_counter()
        response = await client.post(
            "/v1/reports",
            json=_report(),
            headers=token(Role.DORM_LEADER, sub=f"bomb-watch-{uuid.uuid4().hex[:8]}"),
        )
        answered.append((response.status_code, time.perf_counter() - started))
    return answered


@pytest.mark.parametrize(
    ("name", "build", "code"),
    [
        (
            "a dimension tag claiming the whole grid",
            lambda: dimension_bomb(HEADER),
            "too_many_rows",
        ),
        (
            "shared strings unpacking to 300 MiB",
            lambda: shared_strings_bomb(HEADER, 300),
            "xlsx_unpacks_too_large",
        ),
    ],
)
async def test_a_crafted_xlsx_census_is_refused_and_reports_are_answered_meanwhile(
    client: httpx.AsyncClient, token, name: str, build, code: str
) -> None:
    bomb = await asyncio.to_thread(build)
    assert len(bomb) < 2 * 1024 * 1024, name  # small on the wire
    headers = {**token(Role.COUNSELING_CENTER, sub="T9001"), "Accept-Language": "en"}
    started = time.perf_counter()
    upload = asyncio.create_task(
        client.post(
            "/v1/screenings/bulk",
            files={"file": ("普查.xlsx", io.BytesIO(bomb), XLSX)},
            headers=headers,
        )
    )
    reports = await _reports_meanwhile(client, token, upload)
    refused = await asyncio.wait_for(upload, 60)  # a deadline, not a benchmark
    took = time.perf_counter() - started
    print(
        f"{name}: refused in {took:.2f} s; reports meanwhile: {[round(t, 3) for _, t in reports]}"
    )

    assert refused.status_code == 413, refused.text
    problem = refused.json()
    assert problem["code"] == code
    assert "1048576" in problem["detail"] or "MiB" in problem["detail"]  # names row or limit
    assert {status for status, _ in reports} == {202}


async def test_a_reporter_sending_report_after_report_is_slowed_with_429(
    client: httpx.AsyncClient, token
) -> None:
    spammer = token(Role.DORM_LEADER, sub="2024029999")
    answers = [await client.post("/v1/reports", json=_report(), headers=spammer) for _ in range(3)]
    assert [a.status_code for a in answers] == [202, 202, 429]
    limited = answers[-1]
    assert limited.headers["content-type"].startswith("application/problem+json")
    assert limited.json()["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) >= 1
    # Another reporter of the same campus is not held up by it.
    other = await client.post("/v1/reports", json=_report(), headers=token(Role.DORM_LEADER))
    assert other.status_code == 202
