"""A burst of severe alerts to one person: the first at once, the rest as one message.

Alarm fatigue: many near-identical alarms in a moment are read, and acted on, less (The Joint
Commission, Sentinel Event Alert 50, "Medical device alarm safety in hospitals", 2013). Each
alert keeps its own deadline, link and delivery record; only the message is shared.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from notify_delivery import (
    CAMPUS,
    FAST_RETRY,
    SHANGHAI,
    SIGNER,
    dispatcher,
    drain,
    load_samples,
    notice,
    place_student,
    rows,
    staff_file,
)
from notify_receivers import HttpSink, SmtpSink
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_contracts.vocabulary import Severity
from shouwang_notify.adapters import state
from shouwang_notify.adapters.db import worker_transaction
from shouwang_notify.domain.contacts import ON_DUTY_REF
from shouwang_notify.domain.routing import AlertNotice
from shouwang_notify.service_layer.acks import confirm_link
from shouwang_notify.service_layer.alerts import plan_alerts
from shouwang_notify.service_layer.bundles import flush_bundles
from shouwang_notify.service_layer.dispatch import Dispatcher
from shouwang_notify.service_layer.policy import NotifyPolicy

pytestmark = pytest.mark.integration
POLICY = NotifyPolicy(retry=FAST_RETRY, zone=SHANGHAI)
WINDOW = POLICY.burst_window
DUTY_PHONE = "13800000999"  # 值班: SMS first
CENTER_PHONE = "13800000004"  # T3001, the counseling center: SMS first
STUDENTS = [f"20249980{n:02d}" for n in range(10)]


@dataclass
class World:
    """Notify's database and keys, and the receivers a dispatcher sends to."""

    pool: asyncpg.Pool
    cipher: NoteCipher
    pseudonyms: Pseudonymizer
    smtp: SmtpSink
    http: HttpSink
    send: Dispatcher
    policy: NotifyPolicy = POLICY

    async def burst(self, grades: list[Severity], at: datetime) -> list[AlertNotice]:
        """A census grades one student per entry within the second: one alert each, every
        one sent to the counseling center (the owner) and the on-duty line."""
        alerts = []
        for grade, no in zip(grades, STUDENTS, strict=False):
            await place_student(self.pool, self.pseudonyms, no)
            alerts.append(notice(self.pseudonyms, grade, student_no=no, on_duty=True, inform=()))
        async with worker_transaction(self.pool) as conn:
            await plan_alerts(conn, self.cipher, self.policy, alerts, at)
        return alerts

    async def plan(self, alert: AlertNotice, at: datetime) -> None:
        async with worker_transaction(self.pool) as conn:
            await plan_alerts(conn, self.cipher, self.policy, [alert], at)

    async def flush(self, at: datetime) -> int:
        async with worker_transaction(self.pool) as conn:
            return await flush_bundles(conn, self.cipher, self.policy, at)

    async def delivered(self) -> list[dict[str, Any]]:
        """The `notification.delivered` events published so far."""
        events = await rows(self.pool, "SELECT payload FROM outbox ORDER BY id")
        payloads = [json.loads(r["payload"]) for r in events]
        return [p["data"] for p in payloads if p["type"] == "shouwang.notification.delivered"]

    def texts_to(self, phone: str) -> list[str]:
        return [r.body["text"] for r in self.http.at("/sms") if r.body["to"] == phone]


@pytest.fixture
async def world(
    notify_pool: asyncpg.Pool,
    cipher: NoteCipher,
    pseudonyms: Pseudonymizer,
    smtp_sink: SmtpSink,
    http_sink: HttpSink,
    http_client: httpx.AsyncClient,
) -> World:
    send = dispatcher(notify_pool, cipher, smtp_sink, http_sink, http_client, POLICY)
    return World(notify_pool, cipher, pseudonyms, smtp_sink, http_sink, send)


def began() -> datetime:
    """When the burst landed: a window ago, so its bundle is due now for the dispatcher."""
    return datetime.now(UTC) - WINDOW - timedelta(seconds=2)


async def test_a_burst_of_severe_alerts_reaches_the_duty_line_as_one_message_not_ten(
    world: World,
) -> None:
    """Graded example (the demo's census): ten PHQ-9 rows graded severe (item 9 or a total of
    20+, the policy's `severe` rung, which names the on-duty line) land within one second.
    Before, the on-duty line got ten 重度预警 SMS in that second. Now: the gravest at once,
    then one SMS when the window ends counting the other nine by grade; the owner likewise.
    Every alert is still recorded as delivered to each of them, once."""
    await load_samples(world.pool, world.cipher, world.pseudonyms)
    start = began()
    grades = [Severity.SEVERE] * 4 + [Severity.CRITICAL] + [Severity.SEVERE] * 5
    alerts = await world.burst(grades, start)
    await drain(world.send)

    # One message each at once, about the gravest alert.
    (duty_first,) = world.texts_to(DUTY_PHONE)
    (center_first,) = world.texts_to(CENTER_PHONE)
    assert "危急预警" in duty_first
    assert "危急预警" in center_first
    # Nothing more until the window ends ...
    assert await world.flush(start + WINDOW - timedelta(seconds=1)) == 0
    # ... then the other nine in one message each.
    assert await world.flush(start + WINDOW) == 2
    await drain(world.send)
    duty = world.texts_to(DUTY_PHONE)
    center = world.texts_to(CENTER_PHONE)
    assert len(duty) == len(center) == 2
    assert "9条新预警待处置（重度9）" in duty[1]
    assert "9条新预警待处置（重度9）" in center[1]

    # Each alert is recorded as delivered to the on-duty line once: nine through the bundle.
    events = await rows(world.pool, "SELECT payload FROM outbox ORDER BY id")
    delivered = [
        json.loads(r["payload"])["data"]
        for r in events
        if json.loads(r["payload"])["type"] == "shouwang.notification.delivered"
    ]
    to_duty = [d for d in delivered if d["recipient_kind"] == "on_duty" and d["alert_id"]]
    assert sorted(d["alert_id"] for d in to_duty) == sorted(a.alert_id for a in alerts)
    assert len({d["notification_id"] for d in delivered}) == len(delivered)
    assert {d["channel"] for d in to_duty} == {"sms"}
    left = await rows(world.pool, "SELECT count(*) AS n FROM deliveries WHERE status = 'bundled'")
    assert left[0]["n"] == 0


async def test_a_lone_severe_alert_is_not_delayed(world: World) -> None:
    await load_samples(world.pool, world.cipher, world.pseudonyms)
    start = began()
    await world.burst([Severity.SEVERE], start)
    await drain(world.send)
    assert len(world.texts_to(DUTY_PHONE)) == 1
    assert len(world.texts_to(CENTER_PHONE)) == 1
    assert await world.flush(start + WINDOW) == 0
    # The window over, the next alert goes at once too.
    await world.burst([Severity.SEVERE], datetime.now(UTC))
    await drain(world.send)
    assert len(world.texts_to(DUTY_PHONE)) == 2


async def test_a_critical_alert_never_waits_behind_a_severe_one(world: World) -> None:
    """Graded example: at 22:00:00 a census row is graded severe (PHQ-9 total 21) and the
    on-duty line is texted at once. Five seconds later a floor leader reports a student on a
    rooftop (critical: imminent danger). Held in the severe alert's window, the critical alert
    would reach the duty phone up to 25 s late; windows are per grade, so it goes at once
    (DESIGN: a critical alert before every other message). The next critical and severe
    alerts within its window wait in one bundle."""
    await load_samples(world.pool, world.cipher, world.pseudonyms)
    start = began()
    await world.burst([Severity.SEVERE], start)
    await drain(world.send)
    assert len(world.texts_to(DUTY_PHONE)) == 1

    async def alert(grade: Severity, no: str, at: datetime) -> None:
        await place_student(world.pool, world.pseudonyms, no)
        alert_ = notice(world.pseudonyms, grade, student_no=no, on_duty=True, inform=())
        await world.plan(alert_, at)

    await alert(Severity.CRITICAL, STUDENTS[1], start + timedelta(seconds=5))
    await drain(world.send)
    duty = world.texts_to(DUTY_PHONE)
    assert len(duty) == 2
    assert "危急预警" in duty[1]

    await alert(Severity.CRITICAL, STUDENTS[2], start + timedelta(seconds=6))
    await alert(Severity.SEVERE, STUDENTS[3], start + timedelta(seconds=7))
    await drain(world.send)
    assert len(world.texts_to(DUTY_PHONE)) == 2
    assert await world.flush(start + WINDOW) >= 1
    await drain(world.send)
    duty = world.texts_to(DUTY_PHONE)
    assert len(duty) == 3
    assert "2条新预警待处置（危急1、重度1）" in duty[2]


async def test_an_alert_acknowledged_while_held_drops_out_of_its_bundle(world: World) -> None:
    await load_samples(world.pool, world.cipher, world.pseudonyms)
    start = began()
    alerts = await world.burst([Severity.SEVERE] * 3, start)
    held = alerts[1:]  # the first went at once
    # The first goes before the window ends, as it would: one claim sends its messages at
    # once, so with the bundle in the same claim the sink would see them in either order.
    await drain(world.send)
    assert len(world.texts_to(DUTY_PHONE)) == 1
    async with worker_transaction(world.pool) as conn:
        await state.alert_acknowledged(conn, held[0].alert_id, CAMPUS, start)
    assert await world.flush(start + WINDOW) == 2
    await drain(world.send)
    duty = world.texts_to(DUTY_PHONE)
    assert len(duty) == 2
    assert "1条新预警待处置（重度1）" in duty[1]
    carried = await rows(
        world.pool,
        "SELECT DISTINCT alert_id FROM deliveries WHERE carried_by IS NOT NULL",
    )
    assert [r["alert_id"] for r in carried] == [held[1].alert_id]

    # Everything held acknowledged: no message at all.
    again = start + WINDOW + timedelta(seconds=1)
    alerts = await world.burst([Severity.SEVERE] * 2, again)
    async with worker_transaction(world.pool) as conn:
        await state.alert_acknowledged(conn, alerts[1].alert_id, CAMPUS, again)
    assert await world.flush(again + WINDOW) == 0


async def test_each_link_of_an_emailed_bundle_acknowledges_its_own_alert_in_english(
    world: World,
) -> None:
    # The counseling center (T3001) reads e-mail, in English.
    staff = staff_file(
        (
            "T3001,测试咨询中心甲,13800000004,t3001@example.com,wx_t3001,dd_t3001,短信,,",
            "T3001,测试咨询中心甲,13800000004,t3001@example.com,wx_t3001,dd_t3001,邮件,,英文",
        )
    )
    await load_samples(world.pool, world.cipher, world.pseudonyms, staff=staff)
    start = began()
    grades = [Severity.CRITICAL, Severity.SEVERE, Severity.CRITICAL, Severity.SEVERE]
    alerts = await world.burst(grades, start)
    await drain(world.send)
    assert await world.flush(start + WINDOW) == 2
    await drain(world.send)

    mails = [m for m in world.smtp.messages if "t3001@example.com" in m.to]
    assert len(mails) == 2
    bundle = mails[1]
    assert "3 more alerts (1 critical, 2 severe)" in bundle.subject
    links = re.findall(r"Confirm: (https://\S+/ack/(\S+))", bundle.text)
    assert len(links) == 3
    # Each line's link confirms its own alert.
    confirmed = []
    for _, token in links:
        async with worker_transaction(world.pool) as conn:
            view = await confirm_link(conn, SIGNER, token=token, short_code=None, now=start)
        assert view.refusal is None
        assert view.link is not None
        confirmed.append(view.link.alert_id)
    assert sorted(confirmed) == sorted(a.alert_id for a in alerts if a is not alerts[0])


async def test_a_bundle_refused_on_sms_carries_its_alerts_on_the_next_channel(
    world: World,
) -> None:
    """The held alerts are recorded as delivered once, on the channel that took the bundle,
    and the refused message is recorded as failed: no alert lost, none counted twice."""
    await load_samples(world.pool, world.cipher, world.pseudonyms)
    start = began()
    alerts = await world.burst([Severity.SEVERE] * 3, start)
    await drain(world.send)
    assert await world.flush(start + WINDOW) == 2
    # The gateway refuses the first bundle it is given (a 4xx is permanent): e-mail next.
    world.http.fail_next(1, status=400)
    await drain(world.send)
    carriers = await rows(
        world.pool,
        "SELECT recipient_ref, channel, status FROM deliveries WHERE template = 'alerts_burst'",
    )
    (refused,) = [r["recipient_ref"] for r in carriers if r["status"] == "failed"]
    # The refused person's next channel (the owner: WeCom; the on-duty line: e-mail) took it.
    ((fallback, _),) = {
        (r["channel"], r["status"])
        for r in carriers
        if r["recipient_ref"] == refused and r["status"] == "sent"
    }
    assert fallback != "sms"
    assert sorted(r["status"] for r in carriers) == ["failed", "sent", "sent"]
    carried = await rows(
        world.pool,
        "SELECT alert_id, channel, status FROM deliveries"
        " WHERE carried_by IS NOT NULL AND recipient_ref = $1",
        refused,
    )
    held = sorted(a.alert_id for a in alerts[1:])
    assert sorted(r["alert_id"] for r in carried) == held
    assert {(r["channel"], r["status"]) for r in carried} == {(fallback, "sent")}
    delivered = [
        json.loads(r["payload"])["data"]
        for r in await rows(world.pool, "SELECT payload FROM outbox ORDER BY id")
        if json.loads(r["payload"])["type"] == "shouwang.notification.delivered"
    ]
    # Each held alert delivered once to each of the two people (the owner, the on-duty line).
    told = sorted(d["alert_id"] for d in delivered if d["alert_id"] in held)
    assert told == sorted(held * 2)


async def test_a_bundle_no_channel_takes_leaves_its_alerts_to_the_duty_call(world: World) -> None:
    """The on-duty line's last resort is a person phoning: the alerts the refused bundle held
    become that call's, none left waiting for a message that will not go."""
    await load_samples(world.pool, world.cipher, world.pseudonyms)
    start = began()
    alerts = await world.burst([Severity.SEVERE] * 3, start)
    await drain(world.send)
    assert await world.flush(start + WINDOW) == 2
    world.http.fail_next(2, status=400)  # both bundles' SMS refused
    world.smtp.fail_next(1, "550 5.1.1 mailbox unavailable")  # the duty line's e-mail too
    await drain(world.send)
    carried = await rows(
        world.pool,
        "SELECT alert_id, recipient_kind, channel, status FROM deliveries"
        " WHERE carried_by IS NOT NULL ORDER BY recipient_kind, alert_id",
    )
    held = sorted(a.alert_id for a in alerts[1:])
    duty = [r for r in carried if r["recipient_kind"] == "on_duty"]
    assert [r["alert_id"] for r in duty] == held
    assert {(r["channel"], r["status"]) for r in duty} == {("phone_call", "call_task")}
    owner = [r for r in carried if r["recipient_kind"] == "staff"]
    assert {(r["channel"], r["status"]) for r in owner} == {("wecom", "sent")}


#: The campus duty system, down: nothing listens there, every webhook fails.
DEAD_DUTY_SYSTEM = "http://127.0.0.1:1/duty/shouwang"


async def test_a_burst_of_failed_duty_webhooks_falls_back_to_one_sms_at_once_and_one_bundle(
    notify_pool: asyncpg.Pool,
    cipher: NoteCipher,
    pseudonyms: Pseudonymizer,
    smtp_sink: SmtpSink,
    http_sink: HttpSink,
    http_client: httpx.AsyncClient,
) -> None:
    """The duty system is down during the census's burst of ten alerts. Its webhook is not
    coalesced, so ten webhooks fail; before, each fell back to an SMS of its own and the duty
    phone got ten in a second. Now the first fallback goes at once and the other nine in one
    SMS when its window ends, each alert still recorded as delivered to the on-duty line once."""
    policy = replace(POLICY, on_duty_webhook=DEAD_DUTY_SYSTEM)
    send = dispatcher(notify_pool, cipher, smtp_sink, http_sink, http_client, policy)
    world = World(notify_pool, cipher, pseudonyms, smtp_sink, http_sink, send, policy)
    await load_samples(world.pool, world.cipher, world.pseudonyms)
    start = began()
    grades = [Severity.SEVERE] * 4 + [Severity.CRITICAL] + [Severity.SEVERE] * 5
    alerts = await world.burst(grades, start)
    await drain(world.send)

    hooks = await rows(
        world.pool,
        "SELECT status FROM deliveries WHERE channel = 'webhook' AND alert_id IS NOT NULL",
    )
    assert [r["status"] for r in hooks] == ["failed"] * 10
    # The first fallback at once (and the critical one, which never waits behind a severe
    # one); the windows they opened hold the rest.
    first = world.texts_to(DUTY_PHONE)
    assert 1 <= len(first) <= 2
    assert any("危急预警" in text for text in first)
    assert await world.flush(datetime.now(UTC)) == 1  # the owner's (its window opened first)
    # The duty line's window ends (moved to now rather than waited for): its one bundle goes.
    await rows(
        world.pool,
        "UPDATE bundle_items SET due_at = $1 WHERE person_ref = $2 AND bundled_at IS NULL",
        datetime.now(UTC),
        ON_DUTY_REF,
    )
    assert await world.flush(datetime.now(UTC)) == 1
    await drain(world.send)
    duty = world.texts_to(DUTY_PHONE)
    assert len(duty) == len(first) + 1
    assert f"{10 - len(first)}条新预警待处置" in duty[-1]

    # Each alert delivered to the on-duty line once, on SMS: one alone, nine through the bundle.
    to_duty = [
        d for d in await world.delivered() if d["recipient_kind"] == "on_duty" and d["alert_id"]
    ]
    assert sorted(d["alert_id"] for d in to_duty) == sorted(a.alert_id for a in alerts)
    assert {d["channel"] for d in to_duty} == {"sms"}
    left = await rows(world.pool, "SELECT count(*) AS n FROM deliveries WHERE status = 'bundled'")
    assert left[0]["n"] == 0


async def test_an_alert_raised_and_escalated_in_one_burst_is_one_line(world: World) -> None:
    """Graded example: two severe PHQ-9 rows land at once; a second later triage escalates the
    second alert a rung up (still severe, a new deadline). Before, the bundle listed it twice,
    two lines with the same link, and counted two alerts. Now it is one line in its latest
    state (escalated, the escalation's deadline); both events are delivered. (An escalation
    to critical would go at once: windows are per grade.)"""
    staff = staff_file(
        (
            "T3001,测试咨询中心甲,13800000004,t3001@example.com,wx_t3001,dd_t3001,短信,,",
            "T3001,测试咨询中心甲,13800000004,t3001@example.com,wx_t3001,dd_t3001,邮件,,英文",
        )
    )
    await load_samples(world.pool, world.cipher, world.pseudonyms, staff=staff)
    start = began()
    _, second = await world.burst([Severity.SEVERE] * 2, start)
    later = start + timedelta(seconds=1)
    escalation = notice(
        world.pseudonyms,
        Severity.SEVERE,
        student_no=STUDENTS[1],
        on_duty=True,
        inform=(),
        alert_id=second.alert_id,
        event_type="shouwang.alert.escalated",
        escalation_level=1,
        ack_deadline=second.ack_deadline + timedelta(hours=1),
        occurred_at=second.occurred_at + timedelta(seconds=1),
    )
    await world.plan(escalation, later)
    await drain(world.send)
    assert await world.flush(start + WINDOW) == 2
    await drain(world.send)

    assert "1条新预警待处置（重度1）" in world.texts_to(DUTY_PHONE)[1]
    mails = [m for m in world.smtp.messages if "t3001@example.com" in m.to]
    assert len(mails) == 2
    bundle = mails[1]
    assert "1 more alerts (1 severe)" in bundle.subject
    lines = re.findall(r"^\d+\. .*$", bundle.text, flags=re.MULTILINE)
    assert len(lines) == 1
    assert "escalated to you" in lines[0]
    assert len(re.findall(r"Confirm: https://", bundle.text)) == 1
    # Both events of the alert are recorded as delivered to the owner through the bundle.
    to_owner = [
        d
        for d in await world.delivered()
        if d["alert_id"] == second.alert_id and d["recipient_kind"] == "staff"
    ]
    assert sorted(d["source_event_id"] for d in to_owner) == sorted(
        [second.event_id, escalation.event_id]
    )
    assert {d["channel"] for d in to_owner} == {"email"}
