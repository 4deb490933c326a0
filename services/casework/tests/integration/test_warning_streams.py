"""Casework applies the assessments' and the alerts' streams as one: concurrent batches of
both topics about the same students (replicas, redeliveries) leave each student one case,
every alert on it once, every event applied once and every history in order; a batch of
both topics applies its assessments first; a census's quiet rows lock nobody."""

from __future__ import annotations

import asyncio
import random
import sys
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from shouwang_casework.adapters.db import campus_transaction
from shouwang_casework.entrypoints.consumers import (
    CASES_CONSUMER,
    _warning,
    apply_once,
    apply_warnings,
)
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.vocabulary import Role, Severity

sys.path.insert(0, str(Path(__file__).parent))  # the shared helpers next to this file
from cases_support import PSEUDONYMS, casework_of, import_roster, outbox_events, warning

pytestmark = pytest.mark.integration

# On the sample roster (residence counselors own their cases), then two nobody owns.
ROSTER = ("2024020001", "2024030002")


async def test_both_streams_at_once_for_the_same_students_give_one_case_each_in_order(
    client: httpx.AsyncClient, pool: asyncpg.Pool, kafka_bootstrap: str
) -> None:
    # Three consumers apply overlapping batches of both topics about the same students at
    # the same moment, each in its own order and each batch in three lanes (two replicas
    # during a rebalance, and a redelivery): without the students' locks they would open two cases for one student,
    # or refuse each other's stale case (a failed batch); without the claims they would
    # attach an alert twice.
    casework = casework_of(pool, kafka_bootstrap)
    campus = f"campus-{uuid.uuid4().hex[:8]}"
    await import_roster(client, campus)
    numbers = [*ROSTER, *(f"20990{n:05d}" for n in range(10))]
    refs = [PSEUDONYMS.student_ref(campus, no) for no in numbers]
    warnings = [
        warning(campus, ref, severity, Role.RESIDENCE_COUNSELOR)
        for ref in refs
        for severity in (Severity.MODERATE, Severity.CRITICAL)
    ]
    events: list[Envelope[Any]] = [e for w in warnings for e in (w.assessment, w.alert)]
    shuffled = random.Random(23)
    streams = [list(events), list(reversed(events)), shuffled.sample(events, len(events))]
    for stream in streams[1:]:
        shuffled.shuffle(stream)

    async def consume(stream: list[Envelope[Any]]) -> list[tuple[str, str]]:
        done = []
        for start in range(0, len(stream), 7):
            batch = stream[start : start + 7]
            outcomes = await apply_warnings(casework, batch, lanes=3)
            done += [(e.id, o) for e, o in zip(batch, outcomes, strict=True)]
        return done

    results = await asyncio.gather(*(consume(stream) for stream in streams))

    applied = [event_id for done in results for event_id, outcome in done if outcome == "applied"]
    assert sorted(applied) == sorted(e.id for e in events)  # each exactly once, none lost
    async with campus_transaction(pool, campus) as conn:
        cases = await conn.fetch("SELECT case_id, student_ref, severity, owner_ref FROM cases")
        alerts = await conn.fetch("SELECT alert_id, case_id FROM alerts")
        attached = await conn.fetchval("SELECT count(*) FROM case_assessments")
        history = await conn.fetch("SELECT case_id, seq, kind, at FROM case_history ORDER BY seq")
    assert sorted(c["student_ref"] for c in cases) == sorted(refs)  # one case per student
    assert all(c["severity"] == "critical" for c in cases)
    owned = {c["student_ref"] for c in cases if c["owner_ref"] is not None}
    assert owned == set(refs[: len(ROSTER)])
    case_of = {c["case_id"]: c["student_ref"] for c in cases}
    assert sorted(a["alert_id"] for a in alerts) == sorted(w.alert.data.alert_id for w in warnings)
    student_of_alert = {w.alert.data.alert_id: w.alert.data.student_ref for w in warnings}
    assert all(case_of[a["case_id"]] == student_of_alert[a["alert_id"]] for a in alerts)
    assert attached == len(warnings)
    for case_id in case_of:
        entries = [h for h in history if h["case_id"] == case_id]
        assert [h["seq"] for h in entries] == list(range(1, len(entries) + 1))
        assert entries[0]["kind"] == "opened"
        assert [h["at"] for h in entries] == sorted(h["at"] for h in entries)
    opened = [e for e in await outbox_events(pool, campus) if e["type"] == "shouwang.case.opened"]
    assert len(opened) == len(refs)


async def outcome(pool: asyncpg.Pool, campus: str) -> list[tuple[Any, ...]]:
    """Each case's opening (severity, reports), owner and its history's kinds, and the kinds
    of the events published about it."""
    async with campus_transaction(pool, campus) as conn:
        rows = await conn.fetch(
            """
            SELECT c.severity, c.owner_role, c.owner_ref IS NOT NULL AS owned,
                   cardinality(c.report_ids) AS reports,
                   ARRAY(SELECT kind FROM case_history h WHERE h.case_id = c.case_id
                         ORDER BY seq) AS kinds
            FROM cases c
            """
        )
    events = [
        e["type"]
        for e in await outbox_events(pool, campus)
        if e["type"].startswith("shouwang.case")
    ]
    return [tuple(row.values()) for row in rows] + [tuple(events)]


async def test_a_batch_of_both_topics_applies_the_assessment_before_its_alert(
    client: httpx.AsyncClient, pool: asyncpg.Pool, kafka_bootstrap: str
) -> None:
    # The consumer reads the alerts' partition before the assessments' as often as not; the
    # case must come out as triage made it (graded, then alerted) either way.
    casework = casework_of(pool, kafka_bootstrap)
    in_order, alert_first = (f"campus-{uuid.uuid4().hex[:8]}" for _ in range(2))
    for campus in (in_order, alert_first):
        await import_roster(client, campus)
        w = warning(
            campus,
            PSEUDONYMS.student_ref(campus, ROSTER[0]),
            Severity.SEVERE,
            Role.RESIDENCE_COUNSELOR,
        )
        if campus == in_order:
            for envelope in (w.assessment, w.alert):
                await apply_once(casework, envelope, consumer=CASES_CONSUMER, apply=_warning)
        else:
            assert await apply_warnings(casework, [w.alert, w.assessment]) == ["applied"] * 2
    expected = await outcome(pool, in_order)
    assert expected[0][3] == 1  # opened by the assessment, with its report
    assert await outcome(pool, alert_first) == expected


async def test_a_census_batch_locks_only_the_students_whose_cases_it_writes(
    client: httpx.AsyncClient, pool: asyncpg.Pool, casework_dsn: str, kafka_bootstrap: str
) -> None:
    # Most of a census grades as nothing to act on: those rows are claimed (applied once)
    # but lock no student, so they never queue behind, or hold up, a case being written.
    campus = f"campus-{uuid.uuid4().hex[:8]}"
    await import_roster(client, campus)
    sent: list[tuple[str, Any]] = []

    async def counted(conn: asyncpg.Connection) -> None:
        conn.add_query_logger(lambda logged: sent.append((logged.query, logged.args)))

    quiet = [
        warning(
            campus,
            PSEUDONYMS.student_ref(campus, f"20980{n:05d}"),
            Severity.NONE,
            Role.RESIDENCE_COUNSELOR,
        )
        for n in range(40)
    ]
    loud = warning(
        campus,
        PSEUDONYMS.student_ref(campus, ROSTER[1]),
        Severity.CRITICAL,
        Role.RESIDENCE_COUNSELOR,
    )
    counting = await asyncpg.create_pool(casework_dsn, min_size=1, max_size=1, init=counted)
    try:
        casework = casework_of(counting, kafka_bootstrap)
        batch = (
            [w.assessment for w in quiet[:20]] + [loud.alert] + [w.assessment for w in quiet[20:]]
        )
        assert await apply_warnings(casework, batch) == ["applied"] * len(batch)
        locks = [args for query, args in sent if "pg_advisory_xact_lock" in query]
        claims = [query for query, _ in sent if "INTO processed_events" in query]
        assert locks == [([f"{campus}:{loud.alert.data.student_ref}"],)]
        assert len(claims) == 1  # one claim for the campus's 41 events

        # Nothing but quiet rows: no lock at all, and every row claimed once.
        sent.clear()
        assert await apply_warnings(casework, [w.assessment for w in quiet]) == ["duplicate"] * 40
        assert not any("pg_advisory_xact_lock" in query for query, _ in sent)
    finally:
        await counting.close()
    async with campus_transaction(pool, campus) as conn:
        assert await conn.fetchval("SELECT count(*) FROM cases") == 1
