"""A burst's bundle read and refused: each link of an e-mailed bundle confirms its own alert;
a bundle a channel refuses carries its alerts on the next channel, or to the on-duty line's
call; a burst of failed duty webhooks falls back to one SMS at once and one bundle.
(`test_alert_bursts.py`: when each message goes and what the bundle holds.)
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest
from notify_bursts import (
    DUTY_PHONE,
    POLICY,
    WINDOW,
    World,
    began,
    burst_world,
)
from notify_delivery import (
    SIGNER,
    drain,
    load_samples,
    rows,
    staff_file,
)
from notify_receivers import HttpSink, SmtpSink
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_contracts.vocabulary import Severity
from shouwang_notify.adapters.db import worker_transaction
from shouwang_notify.domain.contacts import ON_DUTY_REF
from shouwang_notify.service_layer.acks import confirm_link

pytestmark = pytest.mark.integration


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
    links = re.findall(r"Confirm: (https://\S+/ack/([^\s?]+)\?lang=en)", bundle.text)
    assert len(links) == 3  # each opens its page in the reader's English
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
    world = burst_world(notify_pool, cipher, pseudonyms, smtp_sink, http_sink, http_client, policy)
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
