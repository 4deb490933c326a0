"""Threat: a reader subtracts two answers to recover a small cell every answer hid.

One campus, three colleges, one year (2025). College C had two students in crisis, both
severe, both in April: the cell every answer must keep hidden. The reader is the campus's
counselling centre (it may ask for the campus, any college of it, any period and grouping).

Each test asks for what the threat needs and everything else it can, writes every figure
shown into one system of the sums that hold between them (grades add up to the total, months
to the year, colleges to the campus) and checks the small cell does not follow from it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
from shouwang_contracts.auth import mint_token
from shouwang_contracts.vocabulary import Role
from shouwang_devstack.services import ServiceProcess
from shouwang_stats.adapters import generations
from shouwang_stats.adapters.rows import copy_generation
from shouwang_stats.domain.projection import Projection
from shouwang_stats.domain.suppression import Hidden, Key, Line, determined
from shouwang_stats.service_layer.rebuild import PROJECTION_VERSION
from stats_cases import fold_case

pytestmark = pytest.mark.integration

TZ = ZoneInfo("Asia/Shanghai")
CAMPUS = f"diff-{uuid.uuid4().hex[:8]}"
GRADES = ("severe", "moderate", "mild")
MONTHS = tuple(f"2025-{m:02d}" for m in range(1, 13))
COLLEGES = ("A", "B", "C")
# (college, month, grade): cases, one student each.
CASES = {
    ("A", 1, "severe"): 5,
    ("A", 2, "severe"): 5,
    ("A", 3, "moderate"): 10,
    ("A", 5, "mild"): 10,
    ("B", 3, "moderate"): 6,
    ("B", 6, "mild"): 6,
    ("C", 4, "severe"): 2,  # the small cell
    ("C", 9, "moderate"): 5,
    ("C", 10, "mild"): 5,
}
SMALL = ("C", "2025-04", "severe")


@pytest.fixture(scope="module")
async def stats(
    service_database: Any, module_service_process: Callable[..., ServiceProcess]
) -> ServiceProcess:
    dsn = await service_database("stats")
    conn = await asyncpg.connect(dsn)
    try:
        generation = await generations.ensure_active(conn, PROJECTION_VERSION)
        projection = Projection()
        for (college, month, grade), n in CASES.items():
            for i in range(n):
                ref = f"{college}-{month}-{grade}-{i}"
                opened = datetime(2025, month, 10, 9, 0, tzinfo=TZ)
                fold_case(projection, CAMPUS, ref, college, grade, opened)
        await copy_generation(conn, generation.generation, projection)
    finally:
        await conn.close()
    process = module_service_process("stats", {"STATS_DATABASE_URL": dsn})
    await process.start_async()
    return process


@pytest.fixture
async def reader(stats: ServiceProcess, devstack_env: dict[str, str]) -> AsyncIterator[Reader]:
    token = mint_token(
        devstack_env["SHOUWANG_JWT_SECRET"],
        sub="staff-1",
        role=Role.COUNSELING_CENTER,
        campus_id=CAMPUS,
    )
    async with httpx.AsyncClient(base_url=stats.base_url, timeout=60) as client:
        yield Reader(client, {"Authorization": f"Bearer {token}"})


# A figure's identity: (college or None for the campus, month or None for the year, grade or
# None for all grades).
Figure = tuple[str | None, str | None, str | None]


class Reader:
    """Asks the API and remembers every figure it was shown, whatever the answer."""

    def __init__(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        self.client = client
        self.headers = headers
        self.known: dict[Figure, int] = {}
        self.refused: list[dict[str, Any]] = []

    async def ask(self, path: str, **params: Any) -> dict[str, Any] | None:
        answer = await self.client.get(f"/v1/outcomes/{path}", params=params, headers=self.headers)
        if answer.status_code != 200:
            assert answer.status_code in (403, 422), answer.text
            assert answer.headers["content-type"].startswith("application/problem+json")
            self.refused.append(answer.json())
            return None
        body: dict[str, Any] = answer.json()
        return body

    def learn(self, figure: Figure, cell: dict[str, Any]) -> None:
        if cell["value"] is None:
            return
        assert self.known.setdefault(figure, cell["value"]) == cell["value"], figure

    async def annual(self, by: str, college: str | None = None) -> None:
        params: dict[str, Any] = {"year": 2025, "by": by}
        if college:
            params["college"] = college
        body = await self.ask("annual", **params)
        if body is None:
            return
        for row in body["rows"]:
            unit = row["id"] if by == "college" else college
            for g in GRADES:
                self.learn((unit, None, g), row["found"][g])
            self.learn((unit, None, None), row["found_total"])
        if college is None:
            for g in GRADES:
                self.learn((None, None, g), body["totals"]["found"][g])
            self.learn((None, None, None), body["totals"]["found_total"])

    async def found(self, by: str, start: str, end: str, college: str | None = None) -> None:
        """events-found over [start, end] (a month or the year), by college, month or another
        dimension (whose totals alone are figures of this system)."""
        params: dict[str, Any] = {"from": start, "to": end, "by": by}
        if college:
            params["college"] = college
        body = await self.ask("events-found", **params)
        if body is None:
            return
        month = start if start == end and len(start) == 7 else None
        table = body["table"]
        for row in table["rows"] if by in ("college", "month") else []:
            unit, at = (row["id"], month) if by == "college" else (college, row["id"])
            for g in GRADES:
                self.learn((unit, at, g), row["cells"][g])
            self.learn((unit, at, None), row["total"])
        for g in GRADES:
            self.learn((college, month, g), table["totals"]["cells"][g])
        self.learn((college, month, None), table["totals"]["total"])

    async def trends(self, college: str | None = None) -> None:
        params: dict[str, Any] = {"from": "2025", "to": "2025"}
        if college:
            params["college"] = college
        body = await self.ask("trends", **params)
        if body is None:
            return
        for month in body["months"]:
            for g in GRADES:
                self.learn((college, month["month"], g), month["found"][g])
            self.learn((college, month["month"], None), month["found_total"])

    def derives(self, figure: Figure) -> bool:
        """Whether `figure` follows from everything shown and the sums between figures."""
        units: list[str | None] = [*COLLEGES, None]
        months: list[str | None] = [*MONTHS, None]
        grades: list[str | None] = [*GRADES, None]
        every = [(u, m, g) for u in units for m in months for g in grades]
        lines = [
            Line(tuple((u, m, g) for g in GRADES), (u, m, None)) for u in units for m in months
        ]
        lines += [
            Line(tuple((u, m, g) for m in MONTHS), (u, None, g)) for u in units for g in grades
        ]
        lines += [
            Line(tuple((u, m, g) for u in COLLEGES), (None, m, g)) for m in months for g in grades
        ]
        unknown: dict[Key, Hidden] = {f: Hidden.SMALL for f in every if f not in self.known}
        return figure in self.known or figure in determined(unknown, lines)


def cases(college: str | None, month: int | None, grade: str | None) -> int:
    return sum(
        n
        for (c, m, g), n in CASES.items()
        if college in (None, c) and month in (None, m) and grade in (None, g)
    )


def checked(reader: Reader) -> None:
    """What was shown is true, and the small cell was never shown nor can be worked out."""
    for (college, month, grade), value in reader.known.items():
        assert value == cases(college, int(month[5:]) if month else None, grade)
    assert not reader.derives(SMALL)
    assert not reader.derives((None, "2025-04", "severe"))  # the campus's April: only C's two


async def test_overlapping_month_ranges_do_not_reveal_a_small_month(reader: Reader) -> None:
    """January–March beside January–April: April is the difference."""
    three = await reader.ask("events-found", **{"from": "2025-01", "to": "2025-03"})
    four = await reader.ask("events-found", **{"from": "2025-01", "to": "2025-04"})
    if three is not None and four is not None:
        first, second = three["table"]["totals"]["cells"], four["table"]["totals"]["cells"]
        assert first["severe"]["value"] is None or second["severe"]["value"] is None, (
            f"April's severe events are {second['severe']['value']} − {first['severe']['value']}"
        )
    assert reader.refused, "a range that is not a calendar year is refused"
    refusal = reader.refused[0]
    assert refusal["code"] == "period_not_fixed"
    assert "自然年" in refusal["detail"]
    year = await reader.ask("events-found", **{"from": "2025"})
    assert year is not None
    assert year["table"]["totals"]["total"]["value"] == cases(None, None, None)


async def test_a_year_and_its_months_do_not_reveal_a_small_month(reader: Reader) -> None:
    """The year's table beside each month's (asked alone, or as the rows of the year)."""
    await reader.annual("none")
    await reader.found("month", "2025", "2025")
    await reader.trends()
    for month in MONTHS:
        await reader.found("college", month, month)
        await reader.found("source", month, month)
    assert reader.known[(None, None, "severe")] == 12  # the year's severe events stay shown
    checked(reader)


async def test_campus_total_and_its_colleges_do_not_reveal_a_small_college(reader: Reader) -> None:
    """The campus's table beside each college's own answers."""
    await reader.annual("none")
    await reader.annual("college")
    await reader.found("college", "2025", "2025")
    for college in COLLEGES:
        await reader.annual("none", college)
        await reader.found("month", "2025", "2025", college)
        await reader.trends(college)
    assert reader.known[(None, None, None)] == cases(None, None, None)
    checked(reader)
    assert not reader.derives(("C", None, "severe"))
    withheld = [r for r in reader.refused if r["code"] == "college_breakdown_withheld"]
    assert withheld
    assert "学院" in withheld[0]["detail"]
