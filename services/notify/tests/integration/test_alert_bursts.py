"""A burst of severe alerts to one person: the first at once, the rest as one message.

Alarm fatigue: many near-identical alarms in a moment are read, and acted on, less (The Joint
Commission, Sentinel Event Alert 50, "Medical device alarm safety in hospitals", 2013). Each
alert keeps its own deadline, link and delivery record; only the message is shared. Here: when
each message goes and what the bundle holds (`test_alert_burst_fallbacks.py`: its links, and
a bundle or a duty webhook refused, on the next channel). The world is `notify_bursts.py`'s.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from notify_bursts import (
    CENTER_PHONE,
    DUTY_PHONE,
    STUDENTS,
    WINDOW,
    World,
    began,
)
from notify_delivery import (
    CAMPUS,
    drain,
    load_samples,
    notice,
    place_student,
    rows,
    staff_file,
)
from shouwang_contracts.vocabulary import Severity
from shouwang_notify.adapters import state
from shouwang_notify.adapters.db import worker_transaction

pytestmark = pytest.mark.integration


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
    assert "1 more alert (1 severe): act on it" in bundle.subject
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


async def test_a_burst_to_someone_on_dingtalk_is_one_post_at_once_and_one_bundle(
    world: World,
) -> None:
    """The counseling center (T3001) prefers DingTalk. Its robot was not a channel that
    coalesces: a census's three severe alerts were three posts in the group, each @-mentioning
    the same person (and at the robot's 20 a minute, a census's later alerts waited minutes).
    Now DingTalk is read like WeCom: the first at once, the rest in one post."""
    staff = staff_file(
        (
            "T3001,测试咨询中心甲,13800000004,t3001@example.com,wx_t3001,dd_t3001,短信,,",
            "T3001,测试咨询中心甲,13800000004,t3001@example.com,wx_t3001,dd_t3001,钉钉,,",
        )
    )
    await load_samples(world.pool, world.cipher, world.pseudonyms, staff=staff)
    start = began()
    alerts = await world.burst([Severity.SEVERE] * 3, start)
    await drain(world.send)

    def posts() -> list[str]:
        return [
            r.body["text"]["content"]
            for r in world.http.at("/robot/send")
            if r.body["at"]["atMobiles"] == [CENTER_PHONE]
        ]

    assert len(posts()) == 1
    assert await world.flush(start + WINDOW) == 2  # the center's and the on-duty line's
    await drain(world.send)
    first, bundle = posts()
    assert "重度预警" in first
    assert "又有 2 条预警（重度 2 条）" in bundle
    to_center = [
        d
        for d in await world.delivered()
        if d["recipient_kind"] == "staff" and d["channel"] == "dingtalk" and d["alert_id"]
    ]
    assert sorted(d["alert_id"] for d in to_center) == sorted(a.alert_id for a in alerts)
