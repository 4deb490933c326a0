"""Building blocks for the handler tests: records as Kafka hands them over, notify as its
handlers see it, a student placed with the sample's staff."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
from notify_delivery import (
    CAMPUS,
    FAST_RETRY,
    SHANGHAI,
    SIGNER,
    STUDENT_NO,
    dispatcher,
    load_samples,
)
from notify_receivers import HttpSink, SmtpSink
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.envelope import Envelope, Payload
from shouwang_contracts.events.casework import ResponsibleStaff, StudentRouting
from shouwang_contracts.events.triage import AlertRaised
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_contracts.vocabulary import Role, Severity
from shouwang_notify.adapters.templates import Templates
from shouwang_notify.container import Notify
from shouwang_notify.entrypoints.consumers import on_alert, on_directory_entry
from shouwang_notify.service_layer.planner import AlertPlanner
from shouwang_notify.service_layer.policy import NotifyPolicy

POLICY = NotifyPolicy(retry=FAST_RETRY, zone=SHANGHAI, case_batch_window=timedelta(0))


@dataclass
class FakeRecord:
    value: bytes | None
    topic: str = "test"
    partition: int = 0
    offset: int = 0
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()


def record(payload: Payload, student_ref: str, event_id: str | None = None) -> FakeRecord:
    envelope = Envelope.wrap(
        payload, source="/test", campus_id=CAMPUS, subject=student_ref, event_id=event_id
    )
    return FakeRecord(envelope.to_bytes())


def handlers_notify(
    notify_pool: asyncpg.Pool,
    cipher: NoteCipher,
    pseudonyms: Pseudonymizer,
    smtp_sink: SmtpSink,
    http_sink: HttpSink,
    http_client: httpx.AsyncClient,
) -> Notify:
    """Notify as its consumers' handlers see it, on local receivers."""
    return Notify(
        settings=None,  # type: ignore[arg-type]
        pool=notify_pool,
        cipher=cipher,
        pseudonyms=pseudonyms,
        signer=SIGNER,
        templates=Templates(SHANGHAI),
        policy=POLICY,
        dispatcher=dispatcher(notify_pool, cipher, smtp_sink, http_sink, http_client, POLICY),
        planner=AlertPlanner(notify_pool, cipher, POLICY),
    )


async def consume_alert(notify: Notify, alert: FakeRecord) -> str:
    """The alerts consumer lands the record; a planner then plans what waits."""
    outcome = await on_alert(notify, alert)
    await notify.planner.plan_once()
    return outcome


def raised(student_ref: str, severity: Severity) -> AlertRaised:
    now = datetime.now(UTC)
    return AlertRaised(
        alert_id=str(uuid.uuid4()),
        assessment_id=str(uuid.uuid4()),
        student_ref=student_ref,
        severity=severity,
        owner_role=Role.COUNSELING_CENTER,
        inform_roles=[Role.RESIDENCE_COUNSELOR],
        ack_deadline=now + timedelta(hours=2),
        policy_version="test",
        raised_at=now,
    )


async def setup(notify: Notify, pseudonyms: Pseudonymizer) -> str:
    await load_samples(notify.pool, notify.cipher, pseudonyms)
    student_ref = pseudonyms.student_ref(CAMPUS, STUDENT_NO)
    entry = StudentRouting(
        student_ref=student_ref,
        responsible=[
            ResponsibleStaff(
                role=Role.RESIDENCE_COUNSELOR, person_ref=pseudonyms.person_ref(CAMPUS, "T1001")
            ),
            ResponsibleStaff(
                role=Role.COUNSELING_CENTER, person_ref=pseudonyms.person_ref(CAMPUS, "T3001")
            ),
        ],
        updated_at=datetime.now(UTC),
    )
    assert await on_directory_entry(notify, record(entry, student_ref)) == "applied"
    return student_ref
