"""Shared pieces of casework's integration tests: app, tokens, events, refusals in both languages."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from faststream.kafka import KafkaBroker
from shouwang_casework.adapters.db import campus_transaction
from shouwang_casework.adapters.outbox import claim_event
from shouwang_casework.config import CaseworkSettings
from shouwang_casework.container import Casework
from shouwang_casework.service_layer.warnings import on_alert_raised, on_assessment
from shouwang_contracts.auth import mint_token
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events.intake import ReportSubmitted
from shouwang_contracts.events.triage import AlertEscalated, AlertRaised, AssessmentGraded, Reason
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_contracts.vocabulary import Role, Severity, Signal

SAMPLES = Path(__file__).resolve().parents[4] / "samples"
# The keys the test app runs with (conftest.py), and the same keys as objects, to mint tokens,
# compute pseudonyms and open notes the way the app does.
SECRET = "cases-test-jwt-secret-0123456789abcdef"
PSEUDONYM_KEY = "cases-test-pseudonym-key-0123456789abcdef"
PLACEMENT_KEY = "cases-test-placement-key-0123456789abcdef"
NOTE_KEYS = "k1:" + base64.b64encode(bytes(range(32))).decode()
PSEUDONYMS = Pseudonymizer(PSEUDONYM_KEY.encode())
CIPHER = NoteCipher.from_config(NOTE_KEYS)

# From the sample rosters: student 2024020001 lives in 8号楼 (room 202); T1002 counsels 8号楼,
# T1001 counsels 7号楼; T2001 (tier 5) and T3001 (tier 6) hold the whole campus.
STUDENT_NO = "2024020001"
COUNSELOR_8 = "T1002"
COUNSELOR_7 = "T1001"
TEACHER = "T2001"
CENTER = "T3001"


def token(
    secret: str, campus_id: str, sub: str, role: Role, scope: list[str] | None = None
) -> dict[str, str]:
    """Authorization header for a principal."""
    minted = mint_token(secret, sub=sub, role=role, campus_id=campus_id, scope=scope)
    return {"Authorization": f"Bearer {minted}"}


async def import_roster(client: httpx.AsyncClient, campus_id: str, secret: str = SECRET) -> None:
    """Load the sample rosters through records' import endpoint."""
    admin = token(secret, campus_id, "A001", Role.CAMPUS_ADMIN)
    for kind, name in (("students", "roster_students.csv"), ("staff", "roster_staff.csv")):
        response = await client.post(
            f"/v1/roster/{kind}",
            files={"file": (name, (SAMPLES / name).read_bytes(), "text/csv")},
            headers=admin,
        )
        assert response.status_code == 200, response.text


def casework_of(pool: asyncpg.Pool, kafka_bootstrap: str) -> Casework:
    """Casework's parts the consumers' handlers use, on `pool` (the broker is never started)."""
    settings = CaseworkSettings()
    return Casework(
        settings,
        pool,
        KafkaBroker(kafka_bootstrap),
        CIPHER,
        PSEUDONYMS,
        settings.placement_hasher(),
    )


@dataclass
class Warning:
    """An assessment and the alert it raised, as triage would publish them."""

    assessment: Envelope[AssessmentGraded]
    alert: Envelope[AlertRaised]


def warning(
    campus_id: str,
    student_ref: str,
    severity: Severity,
    owner_role: Role,
    report_ids: list[str] | None = None,
) -> Warning:
    """A graded assessment and its alert for one student."""
    now = datetime.now(UTC)
    assessment_id = str(uuid.uuid4())
    graded = AssessmentGraded(
        assessment_id=assessment_id,
        student_ref=student_ref,
        severity=severity,
        previous_severity=Severity.NONE,
        reasons=[Reason(rule_id="test", severity=severity, text_zh="测试", text_en="test")],
        policy_version="test-1",
        trigger="report",
        report_ids=report_ids or [str(uuid.uuid4())],
        graded_at=now,
    )
    alert = AlertRaised(
        alert_id=str(uuid.uuid4()),
        assessment_id=assessment_id,
        student_ref=student_ref,
        severity=severity,
        owner_role=owner_role,
        ack_deadline=now + timedelta(hours=2),
        policy_version="test-1",
        raised_at=now,
    )
    wrap = dict(source="/shouwang/triage", campus_id=campus_id, subject=student_ref)
    return Warning(Envelope.wrap(graded, **wrap), Envelope.wrap(alert, **wrap))


def report_about(campus_id: str, student_ref: str, **fields: Any) -> Envelope[ReportSubmitted]:
    """Intake's record of a floor leader's report of social withdrawal, received now; `fields`
    override any of its facts."""
    now = datetime.now(UTC)
    facts: dict[str, Any] = {
        "report_id": str(uuid.uuid4()),
        "student_ref": student_ref,
        "reporter_ref": "per_x",
        "reporter_role": Role.FLOOR_LEADER,
        "signals": [Signal.SOCIAL_WITHDRAWAL],
        "observed_at": now,
        "received_at": now,
    }
    return Envelope.wrap(
        ReportSubmitted(**{**facts, **fields}),
        source="/shouwang/intake",
        campus_id=campus_id,
        subject=student_ref,
    )


async def deliver(pool: asyncpg.Pool, campus_id: str, w: Warning) -> None:
    """What casework's consumers do with a warning's assessment and alert: claim each event,
    then apply it, each in its own campus transaction."""
    for envelope, apply in ((w.assessment, on_assessment), (w.alert, on_alert_raised)):
        async with campus_transaction(pool, campus_id) as conn:
            assert await claim_event(
                conn, consumer="test", event_id=envelope.id, campus_id=campus_id
            )
            await apply(conn, envelope, CIPHER)


def escalation(
    campus_id: str,
    student_ref: str,
    alert_id: str,
    severity: Severity,
    from_role: Role,
    owner_role: Role,
    *,
    within: timedelta = timedelta(hours=1),
) -> Envelope[AlertEscalated]:
    """Triage's escalation of `alert_id` from `from_role` to `owner_role`, now."""
    now = datetime.now(UTC)
    escalated = AlertEscalated(
        alert_id=alert_id,
        student_ref=student_ref,
        severity=severity,
        from_role=from_role,
        owner_role=owner_role,
        ack_deadline=now + within,
        escalation_level=1,
        missed_deadline=now,
        escalated_at=now,
    )
    return Envelope.wrap(
        escalated, source="/shouwang/triage", campus_id=campus_id, subject=student_ref
    )


async def outbox_events(pool: asyncpg.Pool, campus_id: str) -> list[dict[str, Any]]:
    """Every event casework enqueued for the campus, in id order (parsed envelopes)."""
    import json

    async with campus_transaction(pool, campus_id) as conn:
        rows = await conn.fetch("SELECT payload FROM outbox ORDER BY id")
    return [json.loads(bytes(r["payload"])) for r in rows]


class TopicReader:
    """Remembers a topic's end offsets on entry, then reads what is written after them."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        from aiokafka import AIOKafkaConsumer

        self.topic = topic
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)

    async def __aenter__(self) -> TopicReader:
        from shouwang_devstack.topics import assign_at_end

        await self.consumer.start()
        await assign_at_end(self.consumer, self.topic)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()

    async def read_until(self, done: Any, within: float = 120.0) -> list[Any]:
        """Records until `done(records)` holds (or time runs out)."""
        import asyncio

        records: list[Any] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while loop.time() < deadline and not done(records):
            batch = await self.consumer.getmany(timeout_ms=200, max_records=5000)
            for part in batch.values():
                records.extend(part)
        return records


async def publish(
    bootstrap: str, *envelopes: Envelope[Any], raw: bytes | None = None, topic: str | None = None
) -> None:
    """Publish envelopes (or one raw record to `topic`) as triage would: acks=all, keyed."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for envelope in envelopes:
            headers = envelope.kafka_headers()
            await producer.send_and_wait(
                envelope.topic, envelope.to_bytes(), key=envelope.key, headers=headers
            )
        if raw is not None:
            assert topic is not None
            await producer.send_and_wait(topic, raw, key=b"poison")
    finally:
        await producer.stop()


async def wait_for(probe: Any, within: float = 60.0, every: float = 0.3) -> Any:
    """Poll `await probe()` until it returns something truthy."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = await probe()
        if result or loop.time() > deadline:
            return result
        await asyncio.sleep(every)


def refused(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The problem+json body of a refusal with this status and code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


async def in_both_languages(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    headers: dict[str, str],
    status: int,
    code: str,
    **kwargs: Any,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A refusal's problem+json as a default caller reads it and as one preferring English
    does: the first in zh-CN alone (no English glued on with " / "), the second in English."""
    chinese, english = [
        refused(
            await client.request(method, url, headers={**headers, **language}, **kwargs),
            status,
            code,
        )
        for language in ({}, {"Accept-Language": "en-US,en;q=0.9"})
    ]
    assert not chinese["detail"].isascii(), chinese
    assert " / " not in chinese["detail"], chinese
    assert english["detail"].isascii(), english
    return chinese, english
