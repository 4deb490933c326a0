"""Threat: the same year asked on two days, its complements chosen afresh, gives a small
cell away by differencing (docs/security/routes.md, stats).

One campus, four colleges, the year 2026. College C had 3 students with severe events: the
small cell. On Monday the answer hides it with complements, among them college A's 8 mild
events. On Tuesday two mild events arrive at college D (a new small cell); decided afresh,
the solver takes A's 5 moderate events as the complement instead and shows A's 8 mild,
unchanged, and the reader who takes it for Monday's too solves both days' sums together.

The reader here guesses right which of the figures shown did not move overnight. (Not which
hidden ones did not: a shown total's growth between two days is those days' events, which
no choice of complements hides; see routes.md.) Between the two days the projection is
rebuilt (a fresh generation swapped in, the old one deleted), as
`shouwang-stats-rebuild` does: what the year hid must outlive it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
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
CAMPUS = f"sticky-{uuid.uuid4().hex[:8]}"
GRADES = ("severe", "moderate", "mild")
COLLEGES = ("A", "B", "C", "D")
# (college, grade): cases, one student each.
MONDAY = {
    ("A", "severe"): 6,
    ("A", "moderate"): 5,
    ("A", "mild"): 8,
    ("B", "severe"): 5,
    ("B", "moderate"): 12,
    ("B", "mild"): 12,
    ("C", "severe"): 3,  # the small cell
    ("C", "moderate"): 10,
    ("C", "mild"): 7,
    ("D", "severe"): 5,
    ("D", "moderate"): 12,
}
TUESDAY = {**MONDAY, ("D", "mild"): 2}
SMALL = [(("C", "severe"), "monday"), (("C", "severe"), "tuesday"), (("D", "mild"), "tuesday")]

# A figure: (college or None for the campus, grade or None for every grade).
Figure = tuple[str | None, str | None]


def projection(cases: dict[tuple[str, str], int]) -> Projection:
    built = Projection()
    for (college, grade), n in cases.items():
        for i in range(n):
            ref = f"{college}-{grade}-{i}"
            opened = datetime(2026, 3 + i % 8, 10, 9, 0, tzinfo=TZ)
            fold_case(built, CAMPUS, ref, college, grade, opened)
    return built


def truth(cases: dict[tuple[str, str], int], figure: Figure) -> int:
    college, grade = figure
    return sum(n for (c, g), n in cases.items() if college in (None, c) and grade in (None, g))


async def ask_everything(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[Figure, int]:
    """Every figure of the year the campus's counselling centre is shown: the annual table by
    college and for each college, and events found by college."""
    shown: dict[Figure, int] = {}

    def learn(figure: Figure, cell: dict[str, Any]) -> None:
        if cell["value"] is not None:
            assert shown.setdefault(figure, cell["value"]) == cell["value"], figure

    async def get(path: str, **params: Any) -> dict[str, Any]:
        answer = await client.get(f"/v1/outcomes/{path}", params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    by_college = await get("annual", year=2026, by="college")
    for row in by_college["rows"]:
        for g in GRADES:
            learn((row["id"], g), row["found"][g])
        learn((row["id"], None), row["found_total"])
    for g in GRADES:
        learn((None, g), by_college["totals"]["found"][g])
    learn((None, None), by_college["totals"]["found_total"])
    for college in COLLEGES:
        alone = await get("annual", year=2026, by="none", college=college)
        for row in alone["rows"]:
            for g in GRADES:
                learn((college, g), row["found"][g])
            learn((college, None), row["found_total"])
    table = (await get("events-found", **{"from": "2026", "by": "college"}))["table"]
    for row in table["rows"]:
        for g in GRADES:
            learn((row["id"], g), row["cells"][g])
        learn((row["id"], None), row["total"])
    return shown


def determined_across(days: dict[str, dict[Figure, int]]) -> list[Key]:
    """Hidden figures of either day that follow from both days' figures, the sums between
    them, and knowing which of the figures shown did not change overnight."""
    units: list[str | None] = [*COLLEGES, None]
    every: list[Figure] = [(u, g) for u in units for g in (*GRADES, None)]
    lines: list[Line] = []
    for day in days:
        lines += [Line(tuple(((u, g), day) for g in GRADES), ((u, None), day)) for u in units]
        lines += [
            Line(tuple(((x, g), day) for x in COLLEGES), ((None, g), day)) for g in (*GRADES, None)
        ]
    # A figure shown on one day and not moved overnight is known on the other day too.
    lines += [
        Line(((f, "monday"),), (f, "tuesday"))
        for f in every
        if truth(MONDAY, f) == truth(TUESDAY, f) and any(f in shown for shown in days.values())
    ]
    unknown: dict[Key, Hidden] = {
        (f, day): Hidden.SMALL for day, shown in days.items() for f in every if f not in shown
    }
    return determined(unknown, lines)


@pytest.fixture
async def stats(
    service_database: Any, module_service_process: Callable[..., ServiceProcess]
) -> tuple[ServiceProcess, str]:
    dsn = await service_database("stats")
    conn = await asyncpg.connect(dsn)
    try:
        generation = await generations.ensure_active(conn, PROJECTION_VERSION)
        await copy_generation(conn, generation.generation, projection(MONDAY))
    finally:
        await conn.close()
    env = {"STATS_DATABASE_URL": dsn, "STATS_REBUILD_ON_START": "false"}
    process = module_service_process("stats", env)
    await process.start_async()
    return process, dsn


async def rebuild_as(dsn: str, cases: dict[tuple[str, str], int]) -> None:
    """A fresh generation of `cases` swapped in and the old one deleted, as a rebuild does."""
    conn = await asyncpg.connect(dsn)
    try:
        generation = await generations.start_building(conn, PROJECTION_VERSION)
        await copy_generation(conn, generation, projection(cases))
        await generations.activate(conn, generation, 0)
        assert await generations.clear_inactive(conn)
    finally:
        await conn.close()


async def test_the_same_year_asked_on_two_days_does_not_reveal_a_small_cell(
    stats: tuple[ServiceProcess, str], devstack_env: dict[str, str]
) -> None:
    process, dsn = stats
    token = mint_token(
        devstack_env["SHOUWANG_JWT_SECRET"],
        sub="staff-1",
        role=Role.COUNSELING_CENTER,
        campus_id=CAMPUS,
    )
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=process.base_url, timeout=60) as client:
        monday = await ask_everything(client, headers)
        await rebuild_as(dsn, TUESDAY)
        tuesday = await ask_everything(client, headers)
    for day, cases, shown in (("monday", MONDAY, monday), ("tuesday", TUESDAY, tuesday)):
        for figure, value in shown.items():
            assert value == truth(cases, figure), (day, figure)
    assert tuesday[(None, None)] == truth(TUESDAY, (None, None))  # the year's total is shown
    assert ("D", "mild") not in tuesday  # Tuesday's new small cell is hidden
    assert not [
        key for key in SMALL if key in determined_across({"monday": monday, "tuesday": tuesday})
    ]
    # Whatever Monday hid, Tuesday hides too.
    assert not tuesday.keys() - monday.keys()
