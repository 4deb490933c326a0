"""Building blocks for the delivery tests: a dispatcher on local receivers, events, rows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
from notify_receivers import HttpSink, SmtpSink
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.events.notify import NotificationChannel as Channel
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_contracts.vocabulary import Role, Severity
from shouwang_notify.adapters import state
from shouwang_notify.adapters.channels import (
    DingTalkRobot,
    JsonWebhook,
    Sender,
    SmsGateway,
    WeComRobot,
)
from shouwang_notify.adapters.db import campus_transaction, worker_transaction
from shouwang_notify.adapters.links import LinkSigner
from shouwang_notify.adapters.smtp import SmtpEmail, SmtpSettings
from shouwang_notify.adapters.templates import Templates
from shouwang_notify.domain.routing import AlertNotice, ConsentState, Responsible
from shouwang_notify.domain.schedule import RetryPolicy
from shouwang_notify.service_layer.contacts import import_contacts, parse_upload
from shouwang_notify.service_layer.dispatch import Dispatcher, Lane
from shouwang_notify.service_layer.messages import Composer
from shouwang_notify.service_layer.policy import NotifyPolicy

SAMPLES = Path(__file__).resolve().parents[4] / "samples"
CAMPUS = "demo"
DINGTALK_SECRET = "SEC-local-test-secret"
SHANGHAI = ZoneInfo("Asia/Shanghai")
SIGNER = LinkSigner(["test-link-key-0123456789abcdefghijklmnop"])
STUDENT_NO = "2024020001"  # has two family contacts in the sample
FAST_RETRY = RetryPolicy(
    base=timedelta(milliseconds=20), cap=timedelta(milliseconds=100), max_attempts=3
)


def senders(
    smtp: SmtpSink, http: HttpSink, client: httpx.AsyncClient, smtp_timeout: float = 5.0
) -> dict[Channel, Sender]:
    return {
        Channel.EMAIL: SmtpEmail(
            SmtpSettings("127.0.0.1", smtp.port, "noreply@shouwang.local", security="insecure"),
            timeout=smtp_timeout,
        ),
        Channel.SMS: SmsGateway(client, f"{http.url}/sms", "sms-token"),
        Channel.WECOM: WeComRobot(client, http.url, "wecom-key"),
        Channel.DINGTALK: DingTalkRobot(client, http.url, "ding-token", DINGTALK_SECRET),
        Channel.WEBHOOK: JsonWebhook(client),
    }


def dispatcher(
    pool: asyncpg.Pool,
    cipher: NoteCipher,
    smtp: SmtpSink,
    http: HttpSink,
    client: httpx.AsyncClient,
    policy: NotifyPolicy | None = None,
) -> Dispatcher:
    return Dispatcher(
        pool=pool,
        cipher=cipher,
        composer=Composer(
            Templates(SHANGHAI),
            SIGNER,
            "https://shouwang.example.edu",
            policy.on_duty_webhook if policy else None,
        ),
        policy=policy or NotifyPolicy(retry=FAST_RETRY),
        lanes=[Lane("bulk", senders(smtp, http, client))],
    )


async def drain(d: Dispatcher, rounds: int = 50) -> None:
    """Run the dispatcher until nothing is due (retries included)."""
    import asyncio

    idle = 0
    for _ in range(rounds * 10):
        if await d.run_once():
            idle = 0
            continue
        idle += 1
        if idle > 10:
            return
        await asyncio.sleep(0.03)


def notice(
    pseudonyms: Pseudonymizer,
    severity: Severity,
    *,
    owner: Role = Role.COUNSELING_CENTER,
    inform: tuple[Role, ...] = (Role.RESIDENCE_COUNSELOR, Role.COMMUNITY_PSYCH_TEACHER),
    student_no: str = STUDENT_NO,
    event_id: str | None = None,
    **more: Any,
) -> AlertNotice:
    now = datetime.now(UTC)
    fields: dict[str, Any] = {
        "event_id": event_id or str(uuid.uuid4()),
        "event_type": "shouwang.alert.raised",
        "campus_id": CAMPUS,
        "alert_id": str(uuid.uuid4()),
        "student_ref": pseudonyms.student_ref(CAMPUS, student_no),
        "severity": severity,
        "owner_role": owner,
        "inform_roles": inform,
        "ack_deadline": now + timedelta(hours=2),
        "occurred_at": now,
    }
    fields.update(more)
    return AlertNotice(**fields)


async def place_student(
    pool: asyncpg.Pool, pseudonyms: Pseudonymizer, student_no: str = STUDENT_NO
) -> str:
    """The directory says: T1001 (counselor), T2001 (teacher), T3001 (center) hold the student."""
    student_ref = pseudonyms.student_ref(CAMPUS, student_no)
    people = [
        Responsible(Role.RESIDENCE_COUNSELOR, pseudonyms.person_ref(CAMPUS, "T1001")),
        Responsible(Role.COMMUNITY_PSYCH_TEACHER, pseudonyms.person_ref(CAMPUS, "T2001")),
        Responsible(Role.COUNSELING_CENTER, pseudonyms.person_ref(CAMPUS, "T3001")),
    ]
    async with worker_transaction(pool) as conn:
        await state.replace_responsible(conn, CAMPUS, student_ref, people)
    return student_ref


async def open_case(
    pool: asyncpg.Pool,
    student_ref: str,
    severity: Severity = Severity.SEVERE,
    consent: ConsentState | None = None,
) -> str:
    case_id = str(uuid.uuid4())
    async with worker_transaction(pool) as conn:
        await state.upsert_case(conn, CAMPUS, case_id, student_ref, severity=severity)
        if consent is not None:
            await state.set_consent(conn, case_id, consent, datetime.now(UTC))
    return case_id


async def rows(pool: asyncpg.Pool, sql: str, *args: Any) -> list[asyncpg.Record]:
    async with worker_transaction(pool) as conn:
        return list(await conn.fetch(sql, *args))


async def load_samples(
    pool: asyncpg.Pool, cipher: NoteCipher, pseudonyms: Pseudonymizer, *, staff: bytes | None = None
) -> None:
    """Import the sample staff and family contacts into campus `demo`."""
    for kind, data in (
        ("staff", staff or (SAMPLES / "contacts_staff.csv").read_bytes()),
        ("family", (SAMPLES / "contacts_family.csv").read_bytes()),
    ):
        parsed = await parse_upload(kind, data)
        async with campus_transaction(pool, CAMPUS) as conn:
            result = await import_contacts(
                conn,
                cipher,
                pseudonyms,
                campus_id=CAMPUS,
                kind=kind,
                data=data,
                parsed=parsed,
                imported_by="per_admin",
            )
        assert result.errors == [], result.errors


def staff_file(*edits: tuple[str, str]) -> bytes:
    """The sample staff contacts with a language column (empty: zh-CN), each (old, new) row
    edit applied: `("T2001,…,企业微信,,", "T2001,…,企业微信,,英文")`."""
    staff = (SAMPLES / "contacts_staff.csv").read_text(encoding="utf-8")
    staff = staff.replace("免打扰时段", "免打扰时段,语言").replace("\n", ",\n")
    for old, new in edits:
        assert old in staff, old
        staff = staff.replace(old, new)
    return staff.encode()
