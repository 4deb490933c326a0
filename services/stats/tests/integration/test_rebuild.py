"""A rebuild replays the real topics from their beginning into a fresh generation and swaps it
in: the seed's year comes out as the seed's table, and replaying again, or with duplicates
and a poison record on the topics, changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from shouwang_contracts.topics import CASES
from shouwang_servicekit.kafka.clients import KafkaClients
from shouwang_stats.adapters import generations, hidden
from shouwang_stats.adapters.figures import PgFigures
from shouwang_stats.adapters.replay import TopicLog
from shouwang_stats.domain.periods import Period
from shouwang_stats.domain.scope import Scope
from shouwang_stats.domain.suppression import Key
from shouwang_stats.service_layer import published, reports
from shouwang_stats.service_layer.events import TOPICS
from shouwang_stats.service_layer.rebuild import rebuild
from stats_kafka import publish, publish_raw
from stats_seed_year import seed_year

pytestmark = pytest.mark.integration
TZ = "Asia/Shanghai"


@pytest.fixture(scope="module")
async def dsn(service_database: Any) -> str:
    return str(await service_database("stats"))


@pytest.fixture(scope="module")
async def pool(dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
    yield pool
    await pool.close()


async def campus_rows(pool: asyncpg.Pool, campus: str) -> dict[str, list[Any]]:
    async with pool.acquire() as conn:
        active = await generations.active_number(conn)
        return {
            table: [
                tuple(r)[1:]  # all but the generation
                for r in await conn.fetch(
                    f"SELECT * FROM {table} WHERE generation = $1 AND campus_id = $2"  # noqa: S608
                    " ORDER BY 2, 3",
                    active,
                    campus,
                )
            ]
            for table in ("cases", "alerts", "escalations", "referrals", "follow_ups", "students")
        }


async def seed_figures(pool: asyncpg.Pool, campus: str) -> tuple[list[int], int, int]:
    """The campus's year as counted from the active generation, before suppression (which
    hides the seed's severe and moderate figures; see test_http_api): found by grade, their
    total, and person-times relieved."""
    async with pool.acquire() as conn:
        active = await generations.active_number(conn)
        assert active is not None
        source, scope = PgFigures(conn, active), Scope((campus,))
        year = reports.window(Period.parse("2025"), TZ)
        found = await source.found(scope, year, "none")
        relieved = await source.relieved(scope, year, "none")
    grades = [found[("", b)].value for b in ("severe", "moderate", "mild")]
    return grades, found[(None, None)].value, relieved[None].value


async def hidden_by_the_annual_table(pool: asyncpg.Pool, campus: str) -> frozenset[Key]:
    """Ask the campus's annual table (which keeps what its year hides) and read what is kept."""
    async with pool.acquire() as conn:
        active = await generations.active_number(conn)
        assert active is not None
        source = PgFigures(conn, active)
        await published.annual(
            source, Scope((campus,)), Period.parse("2025"), "college", TZ, datetime.now(UTC)
        )
        return await hidden.hidden_cells(conn, 2025, "found")


async def test_a_rebuild_from_the_topics_gives_the_seeds_table_and_a_second_changes_nothing(
    pool: asyncpg.Pool, dsn: str, kafka_bootstrap: str
) -> None:
    year = seed_year()
    await publish(kafka_bootstrap, year.events)
    log = TopicLog(KafkaClients(kafka_bootstrap, "shouwang-stats-test"), TOPICS)

    # The first in two worker processes (a share of the partitions each), the second in one.
    first = await rebuild(pool, log, workers=2, database_url=dsn)
    assert first is not None
    assert first.workers == 2
    assert first.records >= len(year.events)
    assert await seed_figures(pool, year.campus_id) == ([5, 12, 33], 50, 64)
    before = await campus_rows(pool, year.campus_id)
    hid = await hidden_by_the_annual_table(pool, year.campus_id)
    assert hid  # the seed's severe and moderate figures

    # The same events again, a poison record of a counted type, and a rebuild.
    await publish(kafka_bootstrap, year.events[::3])
    await publish_raw(
        kafka_bootstrap,
        CASES,
        b'{"type": "shouwang.case.opened", "data": {}}',
        key=f"{year.campus_id}:x".encode(),
        headers=[("ce_type", b"shouwang.case.opened")],
    )
    second = await rebuild(pool, log)
    assert second is not None
    assert second.workers == 1
    assert second.generation > first.generation
    assert second.retired == first.generation
    assert second.skipped >= 1
    assert await campus_rows(pool, year.campus_id) == before
    async with pool.acquire() as conn:  # what the year hid is not the old generation's
        assert await hidden.hidden_cells(conn, 2025, "found") == hid
    async with pool.acquire() as conn:
        assert [g.generation for g in await generations.all_generations(conn)] == [
            second.generation
        ]


async def test_only_one_process_rebuilds_at_a_time(
    pool: asyncpg.Pool, kafka_bootstrap: str
) -> None:
    async with pool.acquire() as holder:
        assert await generations.try_rebuild_lock(holder)
        try:
            assert (
                await rebuild(
                    pool, TopicLog(KafkaClients(kafka_bootstrap, "shouwang-stats-test"), TOPICS)
                )
                is None
            )
        finally:
            await generations.release_rebuild_lock(holder)
