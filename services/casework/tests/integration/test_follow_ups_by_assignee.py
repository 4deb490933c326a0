"""Handing over what a person leaves finds their follow-ups by index, not by reading them all.

A staff roster import that takes someone off looks up, in its own transaction, the cases
with scheduled follow-ups that person was to make (`open_cases_with_follow_ups_of`). On a
campus that has kept years of follow-ups, that must be an index lookup: the test fills the
tables to the size of several large campuses after some years, then asks PostgreSQL how it
runs the very statement the adapter sends, as the service's role under row-level security.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import pytest
from shouwang_casework.adapters.roster import open_cases_with_follow_ups_of
from shouwang_devstack.provision import with_database

pytestmark = pytest.mark.integration

CAMPUSES = 8
CASES_PER_CAMPUS = 8_000  # a few years of a large campus; a tenth still open
FOLLOW_UPS_PER_CASE = 3
STAFF_PER_CAMPUS = 300
LEAVERS = (13, 23)  # per_3_13 and per_3_23: each had a scheduled follow-up on 27 open cases


async def _fill(admin: asyncpg.Connection) -> None:
    """Cases and follow-ups of every campus, as a superuser (past row-level security)."""
    await admin.execute(
        """
        INSERT INTO casework.cases (case_id, campus_id, student_ref, state, severity,
                                    severity_rank, owner_ref, owner_role, outcome, opened_at,
                                    updated_at, closed_at)
        SELECT md5('case' || c || '/' || n)::uuid, 'campus-' || c, 'stu_' || c || '_' || n,
               CASE WHEN n % 10 = 0 THEN 'monitoring' ELSE 'closed' END, 'mild', 1,
               'per_' || c || '_' || (n % $2), 'residence_counselor',
               CASE WHEN n % 10 = 0 THEN NULL ELSE 'relieved' END,
               now() - interval '3 years' + n * interval '3 hours', now(),
               CASE WHEN n % 10 = 0 THEN NULL ELSE now() END
        FROM generate_series(1, $3) c, generate_series(1, $1) n
        """,
        CASES_PER_CAMPUS,
        STAFF_PER_CAMPUS,
        CAMPUSES,
    )
    await admin.execute(
        """
        INSERT INTO casework.follow_ups (follow_up_id, campus_id, case_id, purpose, due_at,
                                         assignee_ref, status, created_by_ref, created_at)
        SELECT md5('follow-up' || c || '/' || n || '/' || k)::uuid, 'campus-' || c,
               md5('case' || c || '/' || n)::uuid, 'routine',
               now() - interval '3 years' + n * interval '3 hours' + k * interval '30 days',
               'per_' || c || '_' || ((n + k) % $2),
               CASE WHEN n % 10 = 0 AND k = $3 THEN 'scheduled' ELSE 'completed' END,
               'per_' || c || '_0', now()
        FROM generate_series(1, $4) c, generate_series(1, $1) n, generate_series(1, $3) k
        """,
        CASES_PER_CAMPUS,
        STAFF_PER_CAMPUS,
        FOLLOW_UPS_PER_CASE,
        CAMPUSES,
    )
    await admin.execute("ANALYZE casework.cases, casework.follow_ups")


async def _plan(conn: asyncpg.Connection, query: str, args: tuple[Any, ...]) -> dict[str, Any]:
    (row,) = await conn.fetch(f"EXPLAIN (FORMAT JSON) {query}", *args)
    plan: dict[str, Any] = json.loads(row[0])[0]["Plan"]
    return plan


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(node for child in plan.get("Plans", []) for node in _nodes(child))]


async def test_the_handover_finds_a_leavers_follow_ups_through_the_assignee_index(
    casework_dsn: str, postgres_admin_dsn: str
) -> None:
    admin = await asyncpg.connect(with_database(postgres_admin_dsn, casework_dsn.rsplit("/", 1)[1]))
    try:
        await _fill(admin)
    finally:
        await admin.close()

    conn = await asyncpg.connect(casework_dsn)
    sent: list[tuple[str, tuple[Any, ...]]] = []
    conn.add_query_logger(lambda logged: sent.append((logged.query, tuple(logged.args))))
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config('shouwang.campus_id', 'campus-3', true)")
            found = await open_cases_with_follow_ups_of(conn, [f"per_3_{i}" for i in LEAVERS])
            await asyncio.sleep(0)  # query loggers are called soon, not at once
            ((query, args),) = [(q, a) for q, a in sent if "follow_ups" in q]
            plan = await _plan(conn, query, args)
    finally:
        await conn.close()

    # Each case of campus 3 whose scheduled follow-up fell to one of them, and no other.
    assert sorted(student for _, student in found) == sorted(
        f"stu_3_{n}"
        for n in range(1, CASES_PER_CAMPUS + 1)
        if n % 10 == 0 and (n + FOLLOW_UPS_PER_CASE) % STAFF_PER_CAMPUS in LEAVERS
    )
    on_follow_ups = [n for n in _nodes(plan) if n.get("Relation Name") == "follow_ups"]
    assert on_follow_ups, plan
    assert {n["Node Type"] for n in on_follow_ups} <= {"Index Scan", "Bitmap Heap Scan"}, plan
    indexes = {n.get("Index Name") for n in _nodes(plan)}
    assert "follow_ups_assignee" in indexes, plan
