"""From an alert to the receivers: routing, languages, consent, retries, fallback, digest."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from notify_delivery import (
    FAST_RETRY,
    SHANGHAI,
    dispatcher,
    drain,
    load_samples,
    notice,
    open_case,
    place_student,
    rows,
    staff_file,
)
from notify_receivers import HttpSink, SmtpSink
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_contracts.vocabulary import Role, Severity
from shouwang_notify.adapters.db import worker_transaction
from shouwang_notify.adapters.queue import cancel_family
from shouwang_notify.domain.routing import ConsentState
from shouwang_notify.service_layer.alerts import plan_alert
from shouwang_notify.service_layer.bundles import flush_bundles
from shouwang_notify.service_layer.policy import NotifyPolicy

pytestmark = pytest.mark.integration
POLICY = NotifyPolicy(retry=FAST_RETRY, zone=SHANGHAI)


async def plan(
    pool: asyncpg.Pool, cipher: NoteCipher, alert: object, now: datetime | None = None
) -> int:
    async with worker_transaction(pool) as conn:
        return await plan_alert(conn, cipher, POLICY, alert, now or datetime.now(UTC))  # type: ignore[arg-type]


async def test_severe_alert_reaches_owner_informed_tiers_and_consenting_guardians(
    notify_pool: asyncpg.Pool,
    cipher: NoteCipher,
    pseudonyms: Pseudonymizer,
    smtp_sink: SmtpSink,
    http_sink: HttpSink,
    http_client: httpx.AsyncClient,
) -> None:
    # T2001 reads English: the contacts file says so.
    staff = staff_file(
        (
            "T2001,测试心理教师甲,13800000003,t2001@example.com,wx_t2001,,企业微信,,",
            "T2001,测试心理教师甲,13800000003,t2001@example.com,wx_t2001,,企业微信,,英文",
        )
    )
    await load_samples(notify_pool, cipher, pseudonyms, staff=staff)
    student_ref = await place_student(notify_pool, pseudonyms)
    await open_case(notify_pool, student_ref, Severity.SEVERE, ConsentState.GIVEN)

    assert await plan(notify_pool, cipher, notice(pseudonyms, Severity.SEVERE)) == 5
    await drain(dispatcher(notify_pool, cipher, smtp_sink, http_sink, http_client, POLICY))

    # The owner (counselling center, T3001) prefers SMS; the message carries its link.
    (owner,) = [r for r in http_sink.at("/sms") if r.body["to"] == "13800000004"]
    assert "重度预警" in owner.body["text"]
    assert "https://shouwang.example.edu/ack/s/" in owner.body["text"]
    # Informed tiers by WeCom, @-mentioned, each in their language.
    wecom = {
        r.body["text"]["mentioned_list"][0]: r.body["text"]["content"]
        for r in http_sink.at("/cgi-bin/webhook/send")
    }
    assert "公寓辅导员" in wecom["wx_t1001"]
    assert "Community psychology teacher" in wecom["wx_t2001"]
    # Posted in a group chat: no link that anyone in the group could confirm with.
    assert not any("/ack/" in text for text in wecom.values())
    # Both guardians of the consenting student, by SMS; the message says nothing of the grade.
    family = [
        r.body for r in http_sink.at("/sms") if r.body["to"] in ("13900000001", "13900000002")
    ]
    assert len(family) == 2
    assert all("预警" not in m["text"] and "重度" not in m["text"] for m in family)
    # Outcomes are published without contact details.
    events = await rows(notify_pool, "SELECT payload FROM outbox ORDER BY id")
    payloads = [json.loads(r["payload"]) for r in events]
    assert {p["type"] for p in payloads} == {"shouwang.notification.delivered"}
    assert len(payloads) == 5
    text = json.dumps(payloads, ensure_ascii=False)
    for detail in ("138000", "139000", "wx_t", "@example.com", "测试"):
        assert detail not in text


async def test_contacts_are_sealed_at_rest(
    notify_pool: asyncpg.Pool, cipher: NoteCipher, pseudonyms: Pseudonymizer
) -> None:
    await load_samples(notify_pool, cipher, pseudonyms)
    dump = await rows(
        notify_pool,
        "SELECT row_to_json(s)::text AS r FROM staff_contacts s"
        " UNION ALL SELECT row_to_json(f)::text FROM family_contacts f",
    )
    text = " ".join(r["r"] for r in dump)
    assert len(dump) == 9 + 5
    for detail in ("13800000001", "t1001@example.com", "wx_t1001", "13900000001", "测试家长"):
        assert detail not in text


async def test_mild_alert_reaches_only_the_digest(
    notify_pool: asyncpg.Pool,
    cipher: NoteCipher,
    pseudonyms: Pseudonymizer,
    smtp_sink: SmtpSink,
    http_sink: HttpSink,
    http_client: httpx.AsyncClient,
) -> None:
    await load_samples(notify_pool, cipher, pseudonyms)
    student_ref = await place_student(notify_pool, pseudonyms)
    await open_case(notify_pool, student_ref, Severity.MILD, ConsentState.GIVEN)
    mild = notice(pseudonyms, Severity.MILD, owner=Role.RESIDENCE_COUNSELOR, inform=())
    assert await plan(notify_pool, cipher, mild) == 0
    sender = dispatcher(notify_pool, cipher, smtp_sink, http_sink, http_client, POLICY)
    await drain(sender)
    assert http_sink.requests == []
    assert smtp_sink.messages == []

    # At the campus digest hour, one digest per owner.
    async with worker_transaction(notify_pool) as conn:
        assert await flush_bundles(conn, cipher, POLICY, datetime.now(UTC)) == 0
        assert (
            await flush_bundles(
                conn, cipher, POLICY, datetime.now(UTC) + timedelta(days=1, hours=1)
            )
            == 1
        )
    await drain(sender)
    # T1001 prefers WeCom but has quiet hours; the digest waits for them to end, so send now:
    await rows(notify_pool, "UPDATE deliveries SET not_before = now()")
    await drain(sender)
    (digest,) = http_sink.at("/cgi-bin/webhook/send")
    assert "轻度预警" in digest.body["text"]["content"]


async def test_guardian_without_consent_is_never_contacted(
    notify_pool: asyncpg.Pool,
    cipher: NoteCipher,
    pseudonyms: Pseudonymizer,
    smtp_sink: SmtpSink,
    http_sink: HttpSink,
    http_client: httpx.AsyncClient,
) -> None:
    await load_samples(notify_pool, cipher, pseudonyms)
    student_ref = await place_student(notify_pool, pseudonyms)
    await open_case(notify_pool, student_ref, Severity.CRITICAL, consent=None)
    await plan(notify_pool, cipher, notice(pseudonyms, Severity.CRITICAL))
    await drain(dispatcher(notify_pool, cipher, smtp_sink, http_sink, http_client, POLICY))
    recipients = {r.body.get("to") for r in http_sink.at("/sms")}
    assert "13900000001" not in recipients
    assert "13900000002" not in recipients
    assert "13800000999" in recipients  # critical: the on-duty line (值班) by SMS
    kinds = await rows(notify_pool, "SELECT DISTINCT recipient_kind FROM deliveries")
    assert {r["recipient_kind"] for r in kinds} == {"staff", "on_duty"}


async def test_a_withdrawn_consent_stops_what_is_not_yet_sent(
    notify_pool: asyncpg.Pool, cipher: NoteCipher, pseudonyms: Pseudonymizer
) -> None:
    await load_samples(notify_pool, cipher, pseudonyms)
    student_ref = await place_student(notify_pool, pseudonyms)
    await open_case(notify_pool, student_ref, Severity.SEVERE, ConsentState.GIVEN)
    await plan(notify_pool, cipher, notice(pseudonyms, Severity.SEVERE))
    async with worker_transaction(notify_pool) as conn:
        stopped = await cancel_family(
            conn, "demo", student_ref, "consent_withdrawn", datetime.now(UTC)
        )
    assert stopped == 2
    left = await rows(notify_pool, "SELECT status FROM deliveries WHERE recipient_kind = 'family'")
    assert {r["status"] for r in left} == {"cancelled"}


async def test_a_redelivered_event_queues_nothing_new(
    notify_pool: asyncpg.Pool, cipher: NoteCipher, pseudonyms: Pseudonymizer
) -> None:
    await load_samples(notify_pool, cipher, pseudonyms)
    await place_student(notify_pool, pseudonyms)
    alert = notice(pseudonyms, Severity.SEVERE)
    assert await plan(notify_pool, cipher, alert) == 3
    assert await plan(notify_pool, cipher, alert) == 0
    assert len(await rows(notify_pool, "SELECT id FROM deliveries")) == 3


async def test_a_receiver_that_fails_twice_then_succeeds_gets_one_message(
    notify_pool: asyncpg.Pool,
    cipher: NoteCipher,
    pseudonyms: Pseudonymizer,
    smtp_sink: SmtpSink,
    http_sink: HttpSink,
    http_client: httpx.AsyncClient,
) -> None:
    await load_samples(notify_pool, cipher, pseudonyms)
    await place_student(notify_pool, pseudonyms)
    # Only the owner: T3001 prefers SMS.
    alert = notice(pseudonyms, Severity.SEVERE, inform=())
    await plan(notify_pool, cipher, alert)
    http_sink.fail_next(2, status=503)
    await drain(dispatcher(notify_pool, cipher, smtp_sink, http_sink, http_client, POLICY))
    assert len(http_sink.at("/sms")) == 1
    (row,) = await rows(notify_pool, "SELECT status, attempts FROM deliveries")
    assert (row["status"], row["attempts"]) == ("sent", 3)


async def test_email_retries_a_temporary_smtp_refusal(
    notify_pool: asyncpg.Pool,
    cipher: NoteCipher,
    pseudonyms: Pseudonymizer,
    smtp_sink: SmtpSink,
    http_sink: HttpSink,
    http_client: httpx.AsyncClient,
) -> None:
    await load_samples(notify_pool, cipher, pseudonyms)
    await place_student(notify_pool, pseudonyms)
    # The college leader T4001 prefers email.
    pseudo_leader = pseudonyms.person_ref("demo", "T4001")
    async with worker_transaction(notify_pool) as conn:
        await conn.execute(
            "INSERT INTO responsible VALUES ('demo', $1, 'college_leader', $2)",
            pseudonyms.student_ref("demo", "2024020001"),
            pseudo_leader,
        )
    alert = notice(pseudonyms, Severity.SEVERE, inform=(Role.COLLEGE_LEADER,))
    await plan(notify_pool, cipher, alert)
    smtp_sink.fail_next(1)
    await drain(dispatcher(notify_pool, cipher, smtp_sink, http_sink, http_client, POLICY))
    (mail,) = smtp_sink.to("t4001@example.com")
    assert "重度预警" in mail.subject
    assert "知会" in mail.subject


async def test_a_failing_channel_falls_back_and_the_failure_is_published(
    notify_pool: asyncpg.Pool,
    cipher: NoteCipher,
    pseudonyms: Pseudonymizer,
    smtp_sink: SmtpSink,
    http_sink: HttpSink,
    http_client: httpx.AsyncClient,
) -> None:
    await load_samples(notify_pool, cipher, pseudonyms)
    await place_student(notify_pool, pseudonyms)
    alert = notice(pseudonyms, Severity.SEVERE, owner=Role.RESIDENCE_COUNSELOR, inform=())
    await plan(notify_pool, cipher, alert)
    # T1001 prefers WeCom: the robot refuses its key (errcode 93000, permanent) → SMS.
    http_sink.fail_next(1, status=200, errcode=93000)
    await drain(dispatcher(notify_pool, cipher, smtp_sink, http_sink, http_client, POLICY))
    assert [r.body["to"] for r in http_sink.at("/sms")] == ["13800000001"]
    statuses = await rows(
        notify_pool, "SELECT channel, status, last_error FROM deliveries ORDER BY id"
    )
    assert [(r["channel"], r["status"], r["last_error"]) for r in statuses] == [
        ("wecom", "failed", "errcode_93000"),
        ("sms", "sent", None),
    ]
    payloads = [
        json.loads(r["payload"])
        for r in await rows(notify_pool, "SELECT payload FROM outbox ORDER BY id")
    ]
    failed = [p for p in payloads if p["type"] == "shouwang.notification.failed"]
    assert failed[0]["data"]["fallback_channel"] == "sms"
    assert failed[0]["data"]["reason"] == "errcode_93000"


async def test_dingtalk_is_signed_as_dingtalk_checks_it(
    notify_pool: asyncpg.Pool,
    cipher: NoteCipher,
    pseudonyms: Pseudonymizer,
    smtp_sink: SmtpSink,
    http_sink: HttpSink,
    http_client: httpx.AsyncClient,
) -> None:
    await load_samples(notify_pool, cipher, pseudonyms)
    student_ref = await place_student(notify_pool, pseudonyms)
    async with worker_transaction(notify_pool) as conn:
        await conn.execute(
            "INSERT INTO responsible VALUES ('demo', $1, 'residence_counselor', $2)",
            student_ref,
            pseudonyms.person_ref("demo", "T1002"),  # prefers DingTalk
        )
    await plan(
        notify_pool,
        cipher,
        notice(pseudonyms, Severity.SEVERE, owner=Role.RESIDENCE_COUNSELOR, inform=()),
    )
    await drain(dispatcher(notify_pool, cipher, smtp_sink, http_sink, http_client, POLICY))
    (ding,) = http_sink.at("/robot/send")
    assert ding.body["at"]["atMobiles"] == ["13800000002"]


async def test_on_duty_falls_back_to_a_phone_call_task(
    notify_pool: asyncpg.Pool,
    cipher: NoteCipher,
    pseudonyms: Pseudonymizer,
    smtp_sink: SmtpSink,
    http_sink: HttpSink,
    http_client: httpx.AsyncClient,
) -> None:
    await load_samples(notify_pool, cipher, pseudonyms)
    await place_student(notify_pool, pseudonyms)
    await plan(notify_pool, cipher, notice(pseudonyms, Severity.CRITICAL, inform=()))
    # SMS down for good, SMTP down for good: the 值班 line ends with a call task.
    http_sink.fail_next(100, status=400)
    smtp_sink.stop()
    await drain(dispatcher(notify_pool, cipher, smtp_sink, http_sink, http_client, POLICY))
    calls = await rows(
        notify_pool, "SELECT recipient_kind FROM deliveries WHERE status = 'call_task'"
    )
    assert [r["recipient_kind"] for r in calls] == ["on_duty"]
