"""The projection in real PostgreSQL: folded live or copied whole, the seed's year counts the
same; concurrent batches lose nothing; generations swap."""

from __future__ import annotations

import asyncio
import random
import statistics
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from shouwang_stats.adapters import generations, hidden
from shouwang_stats.adapters.figures import PgFigures
from shouwang_stats.adapters.rows import TABLES, copy_generation, fold_into
from shouwang_stats.domain.linked import Cell
from shouwang_stats.domain.periods import Period
from shouwang_stats.domain.projection import CaseRow, Projection
from shouwang_stats.domain.scope import Scope
from shouwang_stats.service_layer import published, reports
from shouwang_stats.service_layer.events import rows_of
from shouwang_stats.service_layer.outcome_gauges import outcome_families
from stats_seed_year import SeedYear, seed_year

pytestmark = pytest.mark.integration
TZ = "Asia/Shanghai"
YEAR = Period.parse("2025")
LATER = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
async def pool(service_database: Any) -> AsyncIterator[asyncpg.Pool]:
    dsn = await service_database("stats")
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
    yield pool
    await pool.close()


def folded(year: SeedYear) -> Projection:
    projection = Projection()
    for envelope in year.events:
        projection.fold_all(rows_of(envelope.to_bytes(), envelope.kafka_headers()))
    return projection


async def stored_rows(pool: asyncpg.Pool, generation: int) -> dict[str, list[Any]]:
    async with pool.acquire() as conn:
        return {
            table: [
                tuple(r)[1:]
                for r in await conn.fetch(
                    f"SELECT * FROM {table} WHERE generation = $1 ORDER BY 2, 3",  # noqa: S608
                    generation,
                )
            ]
            for table in TABLES.values()
        }


async def new_generation(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        return await generations.start_building(conn, version=1)


async def test_the_seed_year_gives_the_seeds_table_and_known_cycle_times(
    pool: asyncpg.Pool,
) -> None:
    year = seed_year()
    generation = await new_generation(pool)
    async with pool.acquire() as conn:
        await copy_generation(conn, generation, folded(year))
        source = PgFigures(conn, generation)
        scope = Scope((year.campus_id,))
        table = await published.annual(source, scope, YEAR, "none", TZ, LATER)
        cycles = await reports.cycles(source, scope, YEAR, TZ)
        by_college = await published.annual(source, scope, YEAR, "college", TZ, LATER)
        escalated = await reports.escalation_figures(source, scope, YEAR, TZ, LATER)
        open_now = await reports.open_now(source, scope, TZ)

    found = table.found
    # 12 moderate events are 4+4+4 over three colleges shown “<5” each: hidden everywhere
    # (linked.py), and severe beside them; published.annual shows what every answer shows.
    assert [found.cells[("", b)].value for b in ("severe", "moderate", "mild")] == [None, None, 33]
    assert found.total.value == 50
    assert table.relieved.total.value == 64
    assert set(by_college.groups) == set(year.colleges.values())
    assert by_college.found.total.value == 50  # the totals survive the colleges' small cells

    for leg, values in year.legs.items():
        distribution = cycles.legs[leg]
        assert distribution.count == len(values), leg
        if len(values) < 5:
            assert not distribution.shown, leg
            continue
        cuts = statistics.quantiles(sorted(values), n=100, method="inclusive")
        for q in (50, 75, 90, 95):
            assert distribution.percentiles[f"p{q}"] == pytest.approx(cuts[q - 1], abs=1e-3), leg

    assert escalated.breaches.table.col_totals["mild"].value == year.escalations == 6
    assert escalated.breaches.table.row_totals["residence_counselor"].value == 6
    # Four cases still open: fewer than five students, so even the total is withheld.
    assert sum(year.open_cases.values()) == 4
    assert open_now.table.total.display() == "<5"


async def test_folding_live_in_any_batches_equals_copying_the_whole(pool: asyncpg.Pool) -> None:
    year = seed_year()
    whole, live = await new_generation(pool), await new_generation(pool)
    async with pool.acquire() as conn:
        await copy_generation(conn, whole, folded(year))
    events = year.events * 2  # and every event twice
    random.Random(7).shuffle(events)
    for start in range(0, len(events), 37):
        batch = Projection()
        for envelope in events[start : start + 37]:
            batch.fold_all(rows_of(envelope.to_bytes(), envelope.kafka_headers()))
        async with pool.acquire() as conn, conn.transaction():
            await fold_into(conn, live, batch)
    assert await stored_rows(pool, live) == await stored_rows(pool, whole)


async def test_concurrent_batches_about_one_case_lose_nothing(pool: asyncpg.Pool) -> None:
    generation = await new_generation(pool)
    t = [datetime(2025, 5, d, tzinfo=UTC) for d in range(1, 9)]
    parts = [
        CaseRow("c1", "x", "s", opened_at=t[0], severity="mild", state="open", state_at=t[0]),
        CaseRow("c1", "x", "s", acknowledged_at=t[1]),
        CaseRow("c1", "x", "s", state="intervention", state_at=t[2], intervened_at=t[2]),
        CaseRow("c1", "x", "s", severity="severe"),
        CaseRow("c1", "x", "s", state="closed", state_at=t[5], closed_at=t[5], outcome="relieved"),
    ]

    async def fold_one(row: CaseRow) -> None:
        batch = Projection()
        batch.fold(row)
        async with pool.acquire() as conn, conn.transaction():
            await fold_into(conn, generation, batch)

    await asyncio.gather(*(fold_one(p) for p in parts))
    [stored] = (await stored_rows(pool, generation))["cases"]
    assert stored == ("c1", "x", "s", t[0], "severe", None, None, "closed", t[5], t[5],
                      "relieved", t[1], t[2])  # fmt: skip


async def test_a_new_generation_swaps_in_and_the_old_one_is_cleared(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        first = await generations.ensure_active(conn, version=1)
        assert (await generations.ensure_active(conn, version=1)).generation == first.generation
        building = await generations.start_building(conn, version=2)
        batch = Projection()
        batch.fold(CaseRow("c9", "x", "s", opened_at=LATER, severity="mild"))
        await copy_generation(conn, building, batch)
        assert await generations.activate(conn, building, replayed=1) == first.generation
        now_active = await generations.active(conn)
        assert now_active is not None
        assert (now_active.generation, now_active.version, now_active.replayed) == (building, 2, 1)
        cleared = await generations.clear_inactive(conn)
        assert first.generation in cleared
        assert [g.generation for g in await generations.all_generations(conn)] == [building]


async def test_this_years_outcomes_per_campus_for_metrics_are_the_apis_figures(
    pool: asyncpg.Pool,
) -> None:
    year = seed_year()
    generation = await new_generation(pool)
    async with pool.acquire() as conn:
        await copy_generation(conn, generation, folded(year))
        families = await outcome_families(
            PgFigures(conn, generation), TZ, datetime(2025, 12, 1, tzinfo=UTC)
        )
    mine = {
        name: {tuple(sorted(s.labels.items())): s.value for s in samples
               if s.labels["campus"] == year.campus_id}
        for name, samples in families.items()
    }  # fmt: skip
    found = {dict(k)["grade"]: v for k, v in mine["stats_events_found"].items()}
    assert found == {"mild": 33, "all": 50}  # severe and moderate hidden as in the API
    assert list(mine["stats_person_times_relieved"].values()) == [64]
    closed = {
        dict(k)["quantile"]: v
        for k, v in mine["stats_cycle_seconds"].items()
        if dict(k)["milestone"] == "closed"
    }
    expected = statistics.quantiles(sorted(year.since_report["closed"]), n=100, method="inclusive")
    assert closed == {"p50": pytest.approx(expected[49]), "p90": pytest.approx(expected[89])}


async def test_a_years_hidden_cells_are_kept_once_whichever_replica_decides_first(
    pool: asyncpg.Pool,
) -> None:
    """Two replicas decide the same year from the same set: the second is told the set grew
    and adds nothing until it decides again with it (a year no other test asks for)."""
    a: Cell = (("K", "A"), "severe")
    off_roster: Cell = (("K", ""), None)
    every: Cell = ((None, None), "mild")
    async with pool.acquire() as one, pool.acquire() as two:
        assert await hidden.remember(one, 2031, "found", frozenset(), {a}) is None
        assert await hidden.remember(two, 2031, "found", frozenset(), {off_roster}) == {a}
        assert await hidden.hidden_cells(two, 2031, "found") == {a}
        assert (
            await hidden.remember(two, 2031, "found", frozenset({a}), {off_roster, every}) is None
        )
        assert await hidden.hidden_cells(one, 2031, "found") == {a, off_roster, every}
        assert await hidden.hidden_cells(one, 2031, "relieved") == frozenset()
        assert await hidden.hidden_cells(one, 2030, "found") == frozenset()
