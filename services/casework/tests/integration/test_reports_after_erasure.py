"""A report received before a student's file text was erased keeps no text when it is filed
after the erasure (PIPL Art. 47, docs/retention.md): the file-reports consumer has no order
against the erasures, so a report can reach `store_report` late (the consumer behind, a
redelivery) or while an erasure is under way. Either way the report is filed with its
structured facts and without its note and location.

Against a real PostgreSQL, through the consumer's own `store_batch` (no broker needed: the
ordering is between the batch's transaction and the erasure's). The interleaving is held
open with the erasure's own transaction and observed in pg_stat_activity; no sleeps as
synchronisation.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from shouwang_casework.adapters import files
from shouwang_casework.adapters.db import campus_transaction
from shouwang_casework.adapters.retention import erase_file_text, erase_file_text_on_request
from shouwang_casework.entrypoints.record_consumers import store_batch
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events.intake import ReportSubmitted
from shouwang_contracts.vocabulary import ReportChannel, Role, Signal
from shouwang_devstack.provision import with_database

sys.path.insert(0, str(Path(__file__).parent))
from cases_support import CENTER, CIPHER

pytestmark = pytest.mark.integration

YEAR = timedelta(days=365)
NOTE = "室友说她整夜哭"
PLACE = "8号楼202"


def report(campus_id: str, student_ref: str, received_at: datetime) -> Envelope[ReportSubmitted]:
    """A report with a sealed note and location, as current intake sends it (the student
    asked for help: how it was learned of is a structured fact, which no erasure blanks)."""

    def sealed(text: str) -> Any:
        return CIPHER.seal(text, campus_id=campus_id, student_ref=student_ref)

    return Envelope.wrap(
        ReportSubmitted(
            report_id=str(uuid.uuid4()),
            student_ref=student_ref,
            reporter_ref="per_r",
            reporter_role=Role.FLOOR_LEADER,
            signals=[Signal.SELF_HARM_TALK],
            observed_at=received_at,
            received_at=received_at,
            note=sealed(NOTE),
            location_sealed=sealed(PLACE),
            channel=ReportChannel.SELF_REFERRAL,
        ),
        source="/shouwang/intake",
        campus_id=campus_id,
        subject=student_ref,
    )


async def filed(pool: asyncpg.Pool, campus_id: str, envelope: Envelope[ReportSubmitted]) -> Any:
    """The report as the file holds it, its texts opened (`note`, `location`)."""
    async with campus_transaction(pool, campus_id) as conn:
        row = await conn.fetchrow(
            "SELECT signals, channel, reporter_ref, note_sealed, location, location AS location_stored,"
            " text_erased_at"
            " FROM file_reports WHERE report_id = $1",
            envelope.data.report_id,
        )
    assert row is not None, "the report is in the file"
    opened = files.open_sealed_values(
        {"note_sealed": row["note_sealed"], "location": row["location"]},
        CIPHER,
        campus_id=campus_id,
        student_ref=envelope.data.student_ref,
    )
    return {**dict(row), "note": opened.get("note"), "location": opened.get("location")}


async def erase_on_request(conn: asyncpg.Connection, student_ref: str) -> datetime:
    """The counseling center's erasure, in `conn`'s transaction; returns its cutoff (now())."""
    await erase_file_text_on_request(
        conn, student_ref, principal_ref=CENTER, role="counseling_center", request_ref="PIPL-7"
    )
    cutoff: datetime = await conn.fetchval("SELECT now()")
    return cutoff


def assert_kept_without_text(row: dict[str, Any]) -> None:
    assert row["signals"] == [Signal.SELF_HARM_TALK.value]
    assert row["channel"] == ReportChannel.SELF_REFERRAL.value
    assert row["reporter_ref"] == "per_r"
    assert (row["note_sealed"], row["location_stored"]) == (None, None)
    assert row["text_erased_at"] is not None


def assert_kept_with_text(row: dict[str, Any]) -> None:
    assert (row["note"], row["location"], row["text_erased_at"]) == (NOTE, PLACE, None)


async def closed_four_years_ago(pool: asyncpg.Pool, campus: str, student: str) -> datetime:
    """A severe case of the student, closed four years ago (its file due for retention);
    returns when it closed."""
    async with campus_transaction(pool, campus) as conn:
        closed: datetime = await conn.fetchval("SELECT now() - interval '4 years'")
        await conn.execute(
            """
            INSERT INTO cases (case_id, campus_id, student_ref, state, severity, severity_rank,
                               owner_role, outcome, opened_at, updated_at, closed_at)
            VALUES ($1, $2, $3, 'closed', 'severe', 3, 'residence_counselor', 'stable',
                    $4::timestamptz - interval '30 days', $4, $4)
            """,
            uuid.uuid4(), campus, student, closed,
        )  # fmt: skip
    return closed


async def test_a_report_received_before_the_erasure_and_filed_after_it_keeps_no_text(
    pool: asyncpg.Pool,
) -> None:
    """Graded: received a minute before the erasure -> filed without text (the erasure would
    have blanked it); received at the erasure's instant or after -> kept whole (a new
    concern, which the erasure did not cover: `received_at < cutoff` is what it blanks)."""
    campus = f"late-{uuid.uuid4().hex[:6]}"
    student = f"stu_{uuid.uuid4().hex[:12]}"
    async with campus_transaction(pool, campus) as conn:
        cutoff = await erase_on_request(conn, student)
    late = report(campus, student, cutoff - timedelta(minutes=1))
    at_the_instant = report(campus, student, cutoff)
    after = report(campus, student, cutoff + timedelta(seconds=1))

    outcomes = await store_batch(pool, [late, at_the_instant, after], files.store_report)

    assert outcomes == ["stored"] * 3
    assert_kept_without_text(await filed(pool, campus, late))
    assert_kept_with_text(await filed(pool, campus, at_the_instant))
    assert_kept_with_text(await filed(pool, campus, after))
    # A redelivery of the late report changes nothing.
    assert await store_batch(pool, [late], files.store_report) == ["duplicate"]
    assert_kept_without_text(await filed(pool, campus, late))


async def test_a_report_filed_after_a_retention_erasure_keeps_no_text_up_to_its_cutoff(
    pool: asyncpg.Pool,
) -> None:
    """Retention blanks the reports received before now() - the period, which is later than
    the closure it records as `through`: a report received between the two, filed late, is
    one the erasure covered and keeps no text; one received after the cutoff keeps it."""
    campus = f"late-{uuid.uuid4().hex[:6]}"
    student = f"stu_{uuid.uuid4().hex[:12]}"
    retention = timedelta(days=1096)
    closed = await closed_four_years_ago(pool, campus, student)
    async with campus_transaction(pool, campus) as conn:
        assert await erase_file_text(conn, student, retention) == 1
        cutoff = await conn.fetchval("SELECT now()") - retention
    after_closure = report(campus, student, closed + YEAR // 2)  # before the cutoff
    after_cutoff = report(campus, student, cutoff + timedelta(days=1))

    await store_batch(pool, [after_closure, after_cutoff], files.store_report)

    assert_kept_without_text(await filed(pool, campus, after_closure))
    assert_kept_with_text(await filed(pool, campus, after_cutoff))


async def test_an_erasure_from_before_its_cutoff_was_recorded_covers_the_latest_it_could_have(
    pool: asyncpg.Pool, casework_dsn: str, postgres_admin_dsn: str
) -> None:
    """A retention erasure recorded before migration 0014 has no `text_cutoff`. Its cutoff was
    erased_at - the period (at least the 180-day floor), so the late report is judged against
    the latest it can have been: received half a year after the closure (before the real
    cutoff) -> no text, where `through` kept it; received 100 days before the erasure (after
    any cutoff the floor allowed) -> kept whole."""
    campus = f"late-{uuid.uuid4().hex[:6]}"
    student = f"stu_{uuid.uuid4().hex[:12]}"
    closed = await closed_four_years_ago(pool, campus, student)
    async with campus_transaction(pool, campus) as conn:
        assert await erase_file_text(conn, student, timedelta(days=1096)) == 1
        erased_at = await conn.fetchval("SELECT now()")
    # As the erasure function of migration 0009 wrote it: no cutoff (a superuser, past the
    # runtime role's rights and row-level security).
    database = casework_dsn.rsplit("/", 1)[1]
    admin = await asyncpg.connect(with_database(postgres_admin_dsn, database))
    try:
        blanked = await admin.execute(
            "UPDATE casework.retention_erasures SET text_cutoff = NULL WHERE student_ref = $1",
            student,
        )
    finally:
        await admin.close()
    assert blanked == "UPDATE 1"
    after_closure = report(campus, student, closed + YEAR // 2)
    recent = report(campus, student, erased_at - timedelta(days=100))

    await store_batch(pool, [after_closure, recent], files.store_report)

    assert_kept_without_text(await filed(pool, campus, after_closure))
    assert_kept_with_text(await filed(pool, campus, recent))


async def test_a_report_filed_while_the_erasure_is_under_way_waits_for_it_and_keeps_no_text(
    pool: asyncpg.Pool,
) -> None:
    """Interleaved: the erasure has blanked the reports but not committed; a report received
    before it arrives. Unlocked, the consumer would insert it with its text (it cannot see the
    uncommitted erasure, nor the erasure the uncommitted report) and both commit. The
    consumer waits on the student's lock instead, then files the report without text."""
    campus = f"late-{uuid.uuid4().hex[:6]}"
    student = f"stu_{uuid.uuid4().hex[:12]}"
    async with pool.acquire() as observer, campus_transaction(pool, campus) as erasing:
        cutoff = await erase_on_request(erasing, student)
        late = report(campus, student, cutoff - timedelta(minutes=1))
        filing = asyncio.create_task(store_batch(pool, [late], files.store_report))

        async def consumer_waits_or_is_done() -> None:
            while not filing.done():
                waiting = await observer.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock' AND wait_event = 'advisory'"
                )
                if waiting:
                    return
                await asyncio.sleep(0.05)

        async with asyncio.timeout(30):
            await consumer_waits_or_is_done()
        assert not filing.done(), "the report was filed inside the erasure's transaction"
    # The erasure has committed (leaving the block): the consumer goes on.
    assert await asyncio.wait_for(filing, 30) == ["stored"]
    assert_kept_without_text(await filed(pool, campus, late))


async def test_the_replaced_erasures_still_resolve_names_in_their_schema_only(
    pool: asyncpg.Pool,
) -> None:
    """Migration 0014 replaced both erasure functions; CREATE OR REPLACE drops their SET
    clauses. Run as the owner with a search_path of the caller's choosing, a function
    could be made to write a table of the caller's: both keep their pinned search_path."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT proname, prosecdef, proconfig FROM pg_proc"
            " WHERE proname IN ('erase_closed_file_text', 'erase_file_text_on_request')"
            " AND pronamespace = current_schema()::regnamespace ORDER BY proname"
        )
        schema = await conn.fetchval("SELECT current_schema()")
    assert [(r["proname"], r["prosecdef"], r["proconfig"]) for r in rows] == [
        (name, True, [f"search_path={schema}, pg_temp"])
        for name in ("erase_closed_file_text", "erase_file_text_on_request")
    ]
