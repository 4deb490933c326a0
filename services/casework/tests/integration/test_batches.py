"""Casework's consumers apply batches: the same cases, events and file rows as one event at a
time, each event once, campuses kept apart, and no deadlock between batches of one student."""

from __future__ import annotations

import asyncio
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from shouwang_casework.adapters import cases as cases_repo
from shouwang_casework.adapters.db import campus_transaction
from shouwang_casework.adapters.files import store_report
from shouwang_casework.entrypoints.consumers import (
    CASES_CONSUMER,
    _warning,
    apply_batch,
    apply_once,
)
from shouwang_casework.entrypoints.record_consumers import store_batch
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.kafka import PoisonEvent
from shouwang_contracts.vocabulary import Role, Severity

sys.path.insert(0, str(Path(__file__).parent))  # the shared helpers next to this file
from cases_support import (
    CIPHER,
    PSEUDONYMS,
    casework_of,
    import_roster,
    outbox_events,
    report_about,
    warning,
)

pytestmark = pytest.mark.integration

# Students of the sample roster: the first two have residence counselors (owners), the third
# is not on the roster at all (its case opens unowned).
STUDENTS = ("2024020001", "2024030002", "2099990099")


async def outcome_of(pool: asyncpg.Pool, campus: str) -> dict[str, Any]:
    """What the loop made of a campus's warnings, by student number: its cases (state,
    severity, owner, how many alerts and assessments) and the events casework published."""
    refs = {PSEUDONYMS.student_ref(campus, no): no for no in STUDENTS}
    async with campus_transaction(pool, campus) as conn:
        cases = await conn.fetch(
            """
            SELECT c.student_ref, c.state, c.severity, c.owner_role, c.owner_ref,
                   (SELECT count(*) FROM alerts a WHERE a.case_id = c.case_id) AS alerts,
                   (SELECT count(*) FROM case_assessments s WHERE s.case_id = c.case_id)
                       AS assessments
            FROM cases c
            """
        )
    events: dict[str, list[str]] = {}
    for event in await outbox_events(pool, campus):
        if event["subject"] in refs:  # not the roster import's directory entries
            events.setdefault(refs[event["subject"]], []).append(event["type"])
    return {
        "cases": sorted(
            (
                refs[row["student_ref"]],
                row["state"],
                row["severity"],
                row["owner_role"],
                row["owner_ref"] is not None,  # person refs are per campus: owned or not
                row["alerts"],
                row["assessments"],
            )
            for row in cases
        ),
        "events": events,
    }


async def test_a_batch_opens_the_same_cases_as_one_event_at_a_time(
    client: httpx.AsyncClient, pool: asyncpg.Pool, kafka_bootstrap: str
) -> None:
    casework = casework_of(pool, kafka_bootstrap)
    one_by_one, batched, other = (f"campus-{uuid.uuid4().hex[:8]}" for _ in range(3))
    for campus in (one_by_one, batched, other):
        await import_roster(client, campus)

    def warnings(campus: str) -> list[Any]:
        severities = (Severity.CRITICAL, Severity.MODERATE, Severity.SEVERE)
        return [
            warning(campus, PSEUDONYMS.student_ref(campus, no), severity, Role.RESIDENCE_COUNSELOR)
            for no, severity in zip(STUDENTS, severities, strict=True)
        ]

    alone = warnings(one_by_one)
    for w in alone:
        for envelope in (w.assessment, w.alert):
            await apply_once(casework, envelope, consumer=CASES_CONSUMER, apply=_warning)

    # Two campuses in each batch, an event delivered twice, the alerts in another order.
    together, elsewhere = warnings(batched), warnings(other)
    assessments = [together[0].assessment, elsewhere[0].assessment, together[1].assessment]
    assessments += [together[2].assessment, together[0].assessment]
    outcomes = await apply_batch(casework, assessments, consumer=CASES_CONSUMER, apply=_warning)
    assert outcomes == ["applied", "applied", "applied", "applied", "duplicate"]
    alerts = [together[2].alert, together[0].alert, elsewhere[0].alert, together[1].alert]
    outcomes = await apply_batch(casework, alerts, consumer=CASES_CONSUMER, apply=_warning)
    assert outcomes == ["applied"] * 4

    expected = await outcome_of(pool, one_by_one)
    assert len(expected["cases"]) == 3
    assert [owned for *_, owned, _, _ in expected["cases"]] == [True, True, False]
    assert await outcome_of(pool, batched) == expected
    # Row-level security followed each event to its campus: the other campus has its one.
    assert [case[0] for case in (await outcome_of(pool, other))["cases"]] == [STUDENTS[0]]
    # Redelivered as a batch, nothing is applied twice.
    again = await apply_batch(casework, alerts, consumer=CASES_CONSUMER, apply=_warning)
    assert again == ["duplicate"] * 4
    assert await outcome_of(pool, batched) == expected


async def test_batches_of_the_same_students_in_opposite_orders_both_commit(
    client: httpx.AsyncClient, pool: asyncpg.Pool, kafka_bootstrap: str
) -> None:
    # The assessments' and the alerts' consumers apply batches at the same moment; locking
    # their students as they came would deadlock these two (PostgreSQL aborting one).
    casework = casework_of(pool, kafka_bootstrap)
    campus = f"campus-{uuid.uuid4().hex[:8]}"
    refs = [PSEUDONYMS.student_ref(campus, f"20990{n:05d}") for n in range(12)]
    first = [warning(campus, ref, Severity.MODERATE, Role.RESIDENCE_COUNSELOR) for ref in refs]
    second = [warning(campus, ref, Severity.SEVERE, Role.RESIDENCE_COUNSELOR) for ref in refs]

    for _ in range(3):
        results = await asyncio.gather(
            apply_batch(
                casework,
                [w.assessment for w in first],
                consumer=CASES_CONSUMER,
                apply=_warning,
            ),
            apply_batch(
                casework,
                [w.assessment for w in reversed(second)],
                consumer=CASES_CONSUMER,
                apply=_warning,
            ),
        )
        assert all(outcome in {"applied", "duplicate"} for done in results for outcome in done)

    async with campus_transaction(pool, campus) as conn:
        per_student = await conn.fetch(
            "SELECT student_ref, count(*) AS cases, max(severity) AS severity "
            "FROM cases GROUP BY student_ref"
        )
        attached = await conn.fetchval("SELECT count(*) FROM case_assessments")
    assert len(per_student) == len(refs)
    assert all(row["cases"] == 1 for row in per_student)  # one case per student, never two
    assert attached == 2 * len(refs)


async def test_the_file_stores_a_batch_of_two_campuses_once_each_and_a_refusal_is_poison(
    pool: asyncpg.Pool,
) -> None:
    here, there = (f"campus-{uuid.uuid4().hex[:8]}" for _ in range(2))
    ours, theirs = report_about(here, "stu_" + "b" * 32), report_about(there, "stu_" + "c" * 32)

    outcomes = await store_batch(pool, [ours, None, theirs, ours], store_report)

    assert outcomes == ["stored", "skipped", "stored", "duplicate"]
    for campus, report in ((here, ours), (there, theirs)):
        async with campus_transaction(pool, campus) as conn:
            ids = await conn.fetch("SELECT report_id FROM file_reports")
        assert [str(row["report_id"]) for row in ids] == [report.data.report_id]

    # A row the tables refuse rolls the whole batch back, the rows stored before it too.
    later, refused = (report_about(here, "stu_" + c * 32) for c in "de")

    async def refusing(conn: asyncpg.Connection, event: Envelope[Any]) -> bool:
        if event is refused:
            raise asyncpg.CheckViolationError("refused by a check constraint")
        return await store_report(conn, event)

    with pytest.raises(PoisonEvent, match="refused by the file tables: CheckViolationError"):
        await store_batch(pool, [later, refused], refusing)
    async with campus_transaction(pool, here) as conn:
        assert await conn.fetchval("SELECT count(*) FROM file_reports") == 1


async def test_a_warning_costs_casework_few_statements_and_a_known_alert_none_more(
    client: httpx.AsyncClient, pool: asyncpg.Pool, casework_dsn: str, kafka_bootstrap: str
) -> None:
    # Every statement is a round trip and PostgreSQL work on the platform's hottest path:
    # a batch's students are locked once, and what a warning needs to know is read in one
    # statement. Counted, not timed: the budgets fail when a statement creeps back in.
    campus = f"campus-{uuid.uuid4().hex[:8]}"
    await import_roster(client, campus)
    sent: list[str] = []

    async def counted(conn: asyncpg.Connection) -> None:
        conn.add_query_logger(lambda logged: sent.append(logged.query))

    counting = await asyncpg.create_pool(casework_dsn, min_size=1, max_size=1, init=counted)
    try:
        casework = casework_of(counting, kafka_bootstrap)
        # A first warning, about another student, lets asyncpg learn the types it meets once
        # per connection; the pool's reset on release is one round trip per transaction.
        first = warning(
            campus,
            PSEUDONYMS.student_ref(campus, STUDENTS[1]),
            Severity.SEVERE,
            Role.RESIDENCE_COUNSELOR,
        )
        for envelope in (first.alert, first.assessment):
            await apply_batch(casework, [envelope], consumer=CASES_CONSUMER, apply=_warning)
        student = PSEUDONYMS.student_ref(campus, STUDENTS[0])
        w = warning(campus, student, Severity.CRITICAL, Role.RESIDENCE_COUNSELOR)
        # The alert: BEGIN, locks, campus, claim, what is known, the case with its history,
        # the outbox, the alert, COMMIT. The assessment: the same to what is known, then the
        # case's update with its history, the attachment, the reporters' event, COMMIT.
        for envelope, budget in ((w.alert, 9), (w.assessment, 9)):
            sent.clear()
            outcomes = await apply_batch(
                casework, [envelope], consumer=CASES_CONSUMER, apply=_warning
            )
            assert outcomes == ["applied"]
            transaction = [q for q in sent if not q.startswith("SELECT pg_advisory_unlock_all")]
            assert len(transaction) <= budget, "\n".join(
                " ".join(q.split())[:70] for q in transaction
            )
            assert sum("pg_advisory_xact_lock" in q for q in sent) == 1

        # The alert is on file already (its claim purged, or claimed by another consumer):
        # the one read says so, and nothing is written.
        sent.clear()
        again = await apply_batch(casework, [w.alert], consumer="casework.replay", apply=_warning)
        assert again == ["applied"]
        assert not any(q.lstrip().startswith(("INSERT INTO cases", "UPDATE")) for q in sent)
    finally:
        await counting.close()
    outcome = await outcome_of(pool, campus)
    # One case, owned, the alert and the assessment on it once each.
    assert (STUDENTS[0], "open", "critical", "residence_counselor", True, 1, 1) in outcome["cases"]
    assert len(outcome["cases"]) == 2
    assert outcome["events"][STUDENTS[0]].count("shouwang.case.opened") == 1


async def test_a_stale_case_is_refused_and_writes_no_history_and_the_next_seq_follows_on(
    client: httpx.AsyncClient, pool: asyncpg.Pool, kafka_bootstrap: str
) -> None:
    # The case's update and its history rows are one statement: the version check must still
    # refuse a case changed since it was read, with none of its history written.
    casework = casework_of(pool, kafka_bootstrap)
    campus = f"campus-{uuid.uuid4().hex[:8]}"
    await import_roster(client, campus)
    w = warning(
        campus,
        PSEUDONYMS.student_ref(campus, STUDENTS[0]),
        Severity.SEVERE,
        Role.RESIDENCE_COUNSELOR,
    )
    await apply_batch(casework, [w.alert], consumer=CASES_CONSUMER, apply=_warning)
    async with campus_transaction(pool, campus) as conn:
        (case_id,) = [str(r["case_id"]) for r in await conn.fetch("SELECT case_id FROM cases")]
        fresh, stale = (
            await cases_repo.get_case(conn, case_id),
            await cases_repo.get_case(conn, case_id),
        )
        assert fresh is not None
        assert stale is not None
        now = datetime.now(UTC)
        fresh.assign(owner_ref="per_a", owner_role=Role.COUNSELING_CENTER, at=now)
        await cases_repo.save_case(conn, fresh, CIPHER)
        stale.assign(owner_ref="per_b", owner_role=Role.COUNSELING_CENTER, at=now)
        with pytest.raises(cases_repo.StaleCase):
            async with conn.transaction():
                await cases_repo.save_case(conn, stale, CIPHER)
        seqs = [
            r["seq"]
            for r in await conn.fetch(
                "SELECT seq FROM case_history WHERE case_id = $1 ORDER BY seq", uuid.UUID(case_id)
            )
        ]
        owner = await conn.fetchval(
            "SELECT owner_ref FROM cases WHERE case_id = $1", uuid.UUID(case_id)
        )
    assert owner == "per_a"
    assert seqs == list(range(1, len(seqs) + 1))
    assert len(seqs) >= 2
