"""A critical alert never waits behind a burst: planned and sent ahead of milder ones."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from notify_delivery import (
    CAMPUS,
    FAST_RETRY,
    SHANGHAI,
    SIGNER,
    load_samples,
    notice,
    place_student,
    rows,
    senders,
)
from notify_receivers import HttpSink, Request, SmtpSink, until
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events.triage import AlertRaised
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_contracts.vocabulary import Role, Severity
from shouwang_notify.adapters import inbox
from shouwang_notify.adapters.db import worker_transaction
from shouwang_notify.adapters.templates import Templates
from shouwang_notify.domain.routing import AlertNotice
from shouwang_notify.service_layer.alerts import plan_alert
from shouwang_notify.service_layer.dispatch import Dispatcher, Lane
from shouwang_notify.service_layer.messages import Composer
from shouwang_notify.service_layer.planner import AlertPlanner
from shouwang_notify.service_layer.policy import (
    CRITICAL_PRIORITY,
    LOWEST_PRIORITY,
    PRIORITY,
    NotifyPolicy,
)
from shouwang_notify.service_layer.precedence import Precedence

pytestmark = pytest.mark.integration
# A queue full of messages, each queued alone (a person's burst would go as one message:
# test_alert_bursts.py), to load the lanes.
POLICY = NotifyPolicy(retry=FAST_RETRY, zone=SHANGHAI, burst_window=timedelta(0))
BURST = 6  # severe alerts, one email each


def critical(request: Request) -> bool:
    text = request.body.get("text")
    return "危急" in json.dumps(text, ensure_ascii=False)


async def plan(pool: asyncpg.Pool, cipher: NoteCipher, alert: AlertNotice) -> None:
    async with worker_transaction(pool) as conn:
        await plan_alert(conn, cipher, POLICY, alert, datetime.now(UTC))


async def test_a_critical_alert_overtakes_a_queued_burst(
    notify_pool: asyncpg.Pool,
    cipher: NoteCipher,
    pseudonyms: Pseudonymizer,
    smtp_sink: SmtpSink,
    http_sink: HttpSink,
    http_client: httpx.AsyncClient,
) -> None:
    await load_samples(notify_pool, cipher, pseudonyms)
    student_ref = await place_student(notify_pool, pseudonyms)
    # A burst of severe alerts to the college leader T4001, by email.
    async with worker_transaction(notify_pool) as conn:
        await conn.execute(
            "INSERT INTO responsible VALUES ($1, $2, 'college_leader', $3)",
            CAMPUS,
            student_ref,
            pseudonyms.person_ref(CAMPUS, "T4001"),
        )
    for _ in range(BURST):
        alert = notice(pseudonyms, Severity.SEVERE, owner=Role.COLLEGE_LEADER, inform=())
        await plan(notify_pool, cipher, alert)
    # The mail server stalls: the bulk lane's two slots hang on the burst's first messages.
    smtp_sink.hold()
    dispatcher = Dispatcher(
        pool=notify_pool,
        cipher=cipher,
        composer=Composer(Templates(SHANGHAI), SIGNER, "https://shouwang.example.edu"),
        policy=POLICY,
        lanes=[
            # Held mail must not time out (and free its slot) while the test waits.
            Lane("bulk", senders(smtp_sink, http_sink, http_client, 120.0), concurrency=2),
            Lane(
                "urgent",
                senders(smtp_sink, http_sink, http_client),
                concurrency=2,
                max_priority=CRITICAL_PRIORITY,
                urgent=True,
            ),
        ],
        poll_seconds=0.05,
    )
    running = asyncio.create_task(dispatcher.run())
    try:
        await until(lambda: smtp_sink.held == 2, what="the bulk lane to be busy")
        await plan(notify_pool, cipher, notice(pseudonyms, Severity.CRITICAL))
        dispatcher.wake()
        # Owner (SMS), two informed tiers (WeCom) and the on-duty line (SMS), while the
        # bulk lane is still stuck.
        await until(lambda: len(http_sink.requests) == 4, what="the critical messages")
        assert all(critical(r) for r in http_sink.requests)
        assert (smtp_sink.held, len(smtp_sink.messages)) == (2, 0)
        smtp_sink.release()
        await until(lambda: len(smtp_sink.messages) == BURST, what="the burst")
        await until(lambda: not dispatcher.in_flight, what="the outcomes")
    finally:
        smtp_sink.release()
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    statuses = await rows(notify_pool, "SELECT status, count(*) AS n FROM deliveries GROUP BY 1")
    assert {r["status"]: r["n"] for r in statuses} == {"sent": BURST + 4}


async def test_the_urgent_planner_takes_only_critical_alerts_the_bulk_planner_the_gravest_first(
    notify_pool: asyncpg.Pool, cipher: NoteCipher, pseudonyms: Pseudonymizer
) -> None:
    await load_samples(notify_pool, cipher, pseudonyms)
    await place_student(notify_pool, pseudonyms)
    # Landed in Kafka's order: a burst of moderate alerts, then a severe and a critical one.
    order = [Severity.MODERATE] * 5 + [Severity.SEVERE, Severity.CRITICAL]
    alerts = [landing(notice(pseudonyms, severity)) for severity in order]
    async with worker_transaction(notify_pool) as conn:
        assert len(await inbox.land(conn, alerts)) == len(alerts)
    planner = AlertPlanner(notify_pool, cipher, POLICY)

    async def planned() -> set[str]:
        found = await rows(notify_pool, "SELECT DISTINCT source_event_id FROM deliveries")
        return {str(r["source_event_id"]) for r in found}

    bulk = {"min_priority": CRITICAL_PRIORITY + 1, "max_priority": LOWEST_PRIORITY}
    # The bulk planner takes the gravest waiting first, critical ones aside: the severe alert
    # before the burst.
    assert await planner.plan_once(**bulk, limit=1) == 1
    assert await planned() == {alerts[-2].event_id}
    # The urgent planner takes the critical alert, and nothing milder.
    urgent = {"min_priority": CRITICAL_PRIORITY, "max_priority": CRITICAL_PRIORITY}
    assert await planner.plan_once(**urgent, limit=10) == 1
    assert await planned() == {alerts[-2].event_id, alerts[-1].event_id}
    assert await planner.plan_once(**bulk, limit=10) == 5
    assert await planned() == {a.event_id for a in alerts}
    assert await rows(notify_pool, "SELECT id FROM alert_inbox") == []


async def test_routine_planning_waits_while_critical_alerts_are_planned(
    notify_pool: asyncpg.Pool, cipher: NoteCipher, pseudonyms: Pseudonymizer
) -> None:
    await load_samples(notify_pool, cipher, pseudonyms)
    await place_student(notify_pool, pseudonyms)
    order = [Severity.MODERATE] * 3 + [Severity.CRITICAL]
    alerts = [landing(notice(pseudonyms, severity)) for severity in order]
    async with worker_transaction(notify_pool) as conn:
        await inbox.land(conn, alerts)
    precedence = Precedence(seconds=600)
    precedence.hold()  # as the consumer does when a critical alert lands

    async def planned() -> set[str]:
        found = await rows(notify_pool, "SELECT DISTINCT source_event_id FROM deliveries")
        return {str(r["source_event_id"]) for r in found}

    # Only the bulk planner: it waits, the moderate alerts with it.
    bulk_only = AlertPlanner(
        notify_pool, cipher, POLICY, precedence=precedence, urgent_workers=0, poll_seconds=0.05
    )
    task = asyncio.create_task(bulk_only.run())
    await asyncio.sleep(1.0)
    assert await planned() == set()
    task.cancel()
    # With the urgent planners: the critical alert is planned, and once none is waiting the
    # precedence ends and the moderate ones follow.
    planner = AlertPlanner(notify_pool, cipher, POLICY, precedence=precedence, poll_seconds=0.05)
    task = asyncio.create_task(planner.run())
    try:
        deadline = asyncio.get_running_loop().time() + 60
        while await planned() != {a.event_id for a in alerts}:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
    assert not precedence.held
    first = await rows(
        notify_pool,
        "SELECT source_event_id FROM deliveries ORDER BY created_at, id LIMIT 1",
    )
    assert first[0]["source_event_id"] == alerts[-1].event_id


def landing(alert: AlertNotice) -> inbox.Landing:
    """The alert as Kafka carried it, ready to land in the inbox."""
    payload = AlertRaised(
        alert_id=alert.alert_id,
        assessment_id=str(uuid.uuid4()),
        student_ref=alert.student_ref,
        severity=alert.severity,
        owner_role=alert.owner_role,
        inform_roles=list(alert.inform_roles),
        ack_deadline=alert.ack_deadline,
        policy_version="test",
        raised_at=alert.occurred_at,
    )
    envelope = Envelope.wrap(
        payload, source="/test", campus_id=alert.campus_id, subject=alert.student_ref
    )
    return inbox.Landing(
        envelope.id,
        envelope.type,
        envelope.campus_id,
        PRIORITY[alert.severity],
        envelope.to_bytes(),
    )
