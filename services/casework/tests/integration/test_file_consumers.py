"""The file's consumers on a real broker: stored once per event id, poison to the dead letters;
how each report was learned of (its channel) read back from the file over HTTP."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from faststream.kafka import KafkaBroker
from shouwang_casework.adapters import files
from shouwang_casework.adapters.db import campus_transaction
from shouwang_casework.config import CaseworkSettings
from shouwang_casework.container import Casework
from shouwang_casework.entrypoints.record_consumers import (
    file_groups,
    register_record_consumers,
    store_batch,
)
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events.intake import ScreeningSubmitted
from shouwang_contracts.events.triage import AssessmentGraded, Reason
from shouwang_contracts.instruments import Instrument
from shouwang_contracts.kafka import DLQ_REASON, DLQ_SOURCE_TOPIC
from shouwang_contracts.topics import ASSESSMENTS, CENSUS, REPORTS, dead_letter_topic
from shouwang_contracts.vocabulary import ReportChannel, Role, Severity
from shouwang_devstack.topics import start_groups_at_end

sys.path.insert(0, str(Path(__file__).parent))  # the shared helpers next to this file
from cases_support import (
    CENTER,
    CIPHER,
    PSEUDONYMS,
    SECRET,
    deliver,
    report_about,
    token,
    warning,
)

pytestmark = pytest.mark.integration


async def send(
    producer: AIOKafkaProducer, envelope: Envelope[Any], topic: str | None = None
) -> None:
    await producer.send_and_wait(
        topic or envelope.topic,
        envelope.to_bytes(),
        key=envelope.key,
        headers=envelope.kafka_headers(),
    )


async def wait_for(pool: asyncpg.Pool, campus_id: str, sql: str, expected: int) -> int:
    count = -1
    async with asyncio.timeout(60):
        while count != expected:
            async with campus_transaction(pool, campus_id) as conn:
                count = await conn.fetchval(sql)
            if count != expected:
                await asyncio.sleep(0.2)
    return count


async def dead_letter(bootstrap: str, key: bytes) -> Any:
    """The dead-lettered record of the reports topic with this key (read from the start)."""
    dlq = AIOKafkaConsumer(
        dead_letter_topic(REPORTS), bootstrap_servers=bootstrap, auto_offset_reset="earliest"
    )
    await dlq.start()
    try:
        async with asyncio.timeout(30):
            while True:
                for records in (await dlq.getmany(timeout_ms=1000)).values():
                    for record in records:
                        if record.key == key:
                            return record
    finally:
        await dlq.stop()


@asynccontextmanager
async def file_consumers(
    pool: asyncpg.Pool, kafka_bootstrap: str
) -> AsyncIterator[AIOKafkaProducer]:
    """The file's consumers running on groups of their own at the topics' end (the earliest
    offset would first work through what earlier modules published), and a producer."""
    settings = CaseworkSettings(file_consumer_group=f"casework-file-{uuid.uuid4().hex[:6]}")
    await start_groups_at_end(
        kafka_bootstrap, {g: t for t, g in file_groups(settings.file_consumer_group).items()}
    )
    broker = KafkaBroker(kafka_bootstrap)
    casework = Casework(
        settings, pool, broker, CIPHER, PSEUDONYMS, settings.placement_hasher()
    )  # the parts the file's consumers use
    register_record_consumers(casework)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    await broker.start()
    try:
        yield producer
    finally:
        await broker.stop()
        await producer.stop()


async def test_file_and_case_say_how_each_report_was_learned_of_older_events_read_observed(
    pool: asyncpg.Pool, kafka_bootstrap: str, client: httpx.AsyncClient
) -> None:
    """A student who asked a class officer for help: the file says `self_referral`, and so
    does the case those reports opened, where the counselor works. An event from an intake
    before reports said how (no `channel` in its body) reads `observed`, as the contract
    reads it."""
    campus_id = f"campus-{uuid.uuid4().hex[:8]}"
    student_ref = f"stu_{uuid.uuid4().hex[:12]}"
    asked = report_about(campus_id, student_ref, channel=ReportChannel.SELF_REFERRAL)
    older = report_about(campus_id, student_ref)
    body = json.loads(older.to_bytes())
    del body["data"]["channel"]

    async with file_consumers(pool, kafka_bootstrap) as producer:
        await send(producer, asked)
        await producer.send_and_wait(
            REPORTS, json.dumps(body).encode(), key=older.key, headers=older.kafka_headers()
        )
        await wait_for(pool, campus_id, "SELECT count(*) FROM file_reports", 2)

    center = token(SECRET, campus_id, CENTER, Role.COUNSELING_CENTER)
    response = await client.get(f"/v1/students/{student_ref}/file", headers=center)
    assert response.status_code == 200, response.text
    channels = {r["report_id"]: r["channel"] for r in response.json()["reports"]}
    assert channels == {asked.data.report_id: "self_referral", older.data.report_id: "observed"}

    graded = warning(
        campus_id,
        student_ref,
        Severity.MODERATE,
        Role.COMMUNITY_PSYCH_TEACHER,
        [asked.data.report_id, older.data.report_id],
    )
    await deliver(pool, campus_id, graded)
    async with campus_transaction(pool, campus_id) as conn:
        case_id = await conn.fetchval("SELECT case_id::text FROM cases")
    case = await client.get(f"/v1/cases/{case_id}", headers=center)
    assert case.status_code == 200, case.text
    assert case.json()["report_channels"] == ["observed", "self_referral"]


async def test_the_file_keeps_a_report_of_every_channel_the_contracts_name(
    pool: asyncpg.Pool,
) -> None:
    """The table's CHECK (migrations/0015) lists the channels by hand: one the contracts add
    without a migration widening it fails here, not as dead letters in production."""
    campus_id = f"campus-{uuid.uuid4().hex[:8]}"
    student_ref = f"stu_{uuid.uuid4().hex[:12]}"
    reports = [report_about(campus_id, student_ref, channel=c) for c in ReportChannel]

    assert await store_batch(pool, reports, files.store_report) == ["stored"] * len(reports)
    async with campus_transaction(pool, campus_id) as conn:
        kept = await conn.fetch("SELECT report_id, channel FROM file_reports")
    assert {(r["report_id"], r["channel"]) for r in kept} == {
        (e.data.report_id, e.data.channel.value) for e in reports
    }


async def test_reports_screenings_assessments_land_in_the_file_once_and_poison_goes_to_dlq(
    pool: asyncpg.Pool, kafka_bootstrap: str
) -> None:
    campus_id = f"campus-{uuid.uuid4().hex[:8]}"
    student_ref = "stu_" + "a" * 32
    now = datetime.now(UTC)
    report = report_about(campus_id, student_ref)
    census_row = Envelope.wrap(
        ScreeningSubmitted(
            screening_id=str(uuid.uuid4()),
            student_ref=student_ref,
            submitted_by_ref="per_y",
            instrument=Instrument.PHQ9,
            items=[1, 2, 3, 0, 1, 2, 3, 0, 0],
            administered_at=now,
            batch_id="batch-1",
            batch_row=2,
        ),
        source="/shouwang/intake",
        campus_id=campus_id,
        subject=student_ref,
    )
    assessment = Envelope.wrap(
        AssessmentGraded(
            assessment_id=str(uuid.uuid4()),
            student_ref=student_ref,
            severity=Severity.MODERATE,
            previous_severity=Severity.NONE,
            reasons=[Reason(rule_id="r1", severity=Severity.MODERATE, text_zh="中", text_en="m")],
            policy_version="test-1",
            trigger="report",
            report_ids=[report.data.report_id],
            graded_at=now,
        ),
        source="/shouwang/triage",
        campus_id=campus_id,
        subject=student_ref,
    )
    later = Envelope.wrap(
        report.data.model_copy(update={"report_id": str(uuid.uuid4())}),
        source="/shouwang/intake",
        campus_id=campus_id,
        subject=student_ref,
    )
    poison_key = f"{campus_id}:poison".encode()

    async with file_consumers(pool, kafka_bootstrap) as producer:
        await send(producer, report)
        await send(producer, report)  # redelivered: stored once
        await producer.send_and_wait(
            REPORTS,
            b'{"id": "x", "type": "shouwang.report.submitted"}',
            key=poison_key,
            headers=[("ce_type", b"shouwang.report.submitted")],
        )
        await send(producer, later)  # the student's key: handled after the duplicate
        await send(producer, census_row, CENSUS)
        await send(producer, assessment, ASSESSMENTS)
        await wait_for(pool, campus_id, "SELECT count(*) FROM file_screenings", 1)
        await wait_for(pool, campus_id, "SELECT count(*) FROM file_assessments", 1)
        # Both reports in: the duplicate before the later one had its chance, and was not kept.
        await wait_for(pool, campus_id, "SELECT count(DISTINCT report_id) FROM file_reports", 2)
        async with campus_transaction(pool, campus_id) as conn:
            assert await conn.fetchval("SELECT count(*) FROM file_reports") == 2
        # Read while the consumer runs: it publishes the dead letter, maybe after the rest.
        found = await dead_letter(kafka_bootstrap, poison_key)

    async with campus_transaction(pool, campus_id) as conn:
        screening = await conn.fetchrow(
            "SELECT instrument, total_score, batch_id FROM file_screenings"
        )
        report_ids = await conn.fetchval("SELECT report_ids FROM file_assessments")
    assert tuple(screening) == ("phq9", 12, "batch-1")
    assert report_ids == [report.data.report_id]

    headers = {k: v.decode() for k, v in found.headers}
    assert headers[DLQ_SOURCE_TOPIC] == REPORTS
    assert "not a valid shouwang.report.submitted" in headers[DLQ_REASON]
