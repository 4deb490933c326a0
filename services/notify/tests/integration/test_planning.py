"""A batch of alerts planned together queues what planning them one by one would."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from notify_delivery import (
    FAST_RETRY,
    SHANGHAI,
    load_samples,
    notice,
    open_case,
    place_student,
    rows,
)
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_contracts.vocabulary import Role, Severity
from shouwang_notify.adapters.db import worker_transaction
from shouwang_notify.domain.routing import ConsentState
from shouwang_notify.service_layer.alerts import plan_alerts
from shouwang_notify.service_layer.policy import NotifyPolicy

pytestmark = pytest.mark.integration
# Each message queued as it is planned: a burst's held alerts are test_alert_bursts.py's.
POLICY = NotifyPolicy(retry=FAST_RETRY, zone=SHANGHAI, burst_window=timedelta(0))
OTHER_STUDENT = "2024999999"


async def test_a_batch_of_alerts_is_planned_as_one_by_one(
    notify_pool: asyncpg.Pool, cipher: NoteCipher, pseudonyms: Pseudonymizer
) -> None:
    await load_samples(notify_pool, cipher, pseudonyms)
    student_ref = await place_student(notify_pool, pseudonyms)
    await place_student(notify_pool, pseudonyms, OTHER_STUDENT)
    case_id = await open_case(notify_pool, student_ref, Severity.SEVERE, ConsentState.GIVEN)
    first = notice(pseudonyms, Severity.SEVERE)
    batch = [
        first,
        # A second severe alert: the family was told of this grade already, in this batch.
        notice(pseudonyms, Severity.SEVERE),
        # The first one escalated in the same batch: the owner's link is the same link.
        notice(
            pseudonyms,
            Severity.SEVERE,
            alert_id=first.alert_id,
            event_type="shouwang.alert.escalated",
            escalation_level=1,
        ),
        # A graver one: the family hears again. And another student, no case: staff only.
        notice(pseudonyms, Severity.CRITICAL),
        notice(pseudonyms, Severity.MODERATE, student_no=OTHER_STUDENT),
    ]
    async with worker_transaction(notify_pool) as conn:
        queued = await plan_alerts(conn, cipher, POLICY, batch, datetime.now(UTC))

    queue = await rows(
        notify_pool,
        "SELECT source_event_id, recipient_kind, recipient_ref, context FROM deliveries",
    )
    assert queued == len(queue)
    by_event = {n.event_id: [r for r in queue if r["source_event_id"] == n.event_id] for n in batch}
    family = {e: sum(r["recipient_kind"] == "family" for r in q) for e, q in by_event.items()}
    # Three staff each; the family (two guardians) on the first severe and on the critical
    # alert only; the critical one also reaches the on-duty line.
    assert [len(by_event[n.event_id]) for n in batch] == [5, 3, 3, 6, 3]
    assert [family[n.event_id] for n in batch] == [2, 0, 0, 2, 0]
    (told,) = await rows(notify_pool, "SELECT family_told FROM cases WHERE case_id = $1", case_id)
    assert told["family_told"] == Severity.CRITICAL.value

    owner = pseudonyms.person_ref("demo", "T3001")
    owner_links = {
        json.loads(r["context"])["link_id"]
        for n in batch[:3:2]
        for r in by_event[n.event_id]
        if r["recipient_ref"] == owner
    }
    assert len(owner_links) == 1  # raised and escalated: one link, issued once
    links = await rows(
        notify_pool, "SELECT link_id::text FROM ack_links WHERE person_ref = $1", owner
    )
    assert len(links) == 4  # one per alert: three alerts of the first student, one of the other
    assert owner_links <= {r["link_id"] for r in links}


async def test_everyone_a_batch_cannot_reach_is_recorded_in_one_statement(
    notify_pool: asyncpg.Pool, cipher: NoteCipher, pseudonyms: Pseudonymizer
) -> None:
    # Students the directory places nowhere: nobody holds the owner role their alerts name.
    # Each one left unreached is recorded (the queue's view of who was not told), for the whole
    # batch in one statement rather than a round trip per person.
    await load_samples(notify_pool, cipher, pseudonyms)
    batch = [notice(pseudonyms, Severity.SEVERE, student_no=f"20249980{n:02d}") for n in range(3)]
    sent: list[str] = []

    def log(logged: Any) -> None:
        sent.append(logged.query)

    async with notify_pool.acquire() as conn:
        conn.add_query_logger(log)
        try:
            async with conn.transaction():
                await conn.execute("SELECT set_config('shouwang.all_campuses', 'on', true)")
                await plan_alerts(conn, cipher, POLICY, batch, datetime.now(UTC))
        finally:
            conn.remove_query_logger(log)

    unreached = await rows(
        notify_pool,
        "SELECT source_event_id, recipient_role, reason FROM unreached"
        " WHERE source_event_id = ANY($1::text[])",
        [n.event_id for n in batch],
    )
    for n in batch:
        mine = [
            (r["recipient_role"], r["reason"])
            for r in unreached
            if r["source_event_id"] == n.event_id
        ]
        assert mine == [("counseling_center", "nobody_holds_role")]  # the owner: once
    assert sum("INSERT INTO unreached" in q for q in sent) == 1


async def test_an_alert_escalated_to_the_college_leader_offers_no_lower_tier_a_link(
    notify_pool: asyncpg.Pool, cipher: NoteCipher, pseudonyms: Pseudonymizer
) -> None:
    """Graded example (bundled ladder: counselor -> teacher -> center -> college leader): a
    severe alert the center let pass reaches the college leader, who holds no tier. Only the
    center may still acknowledge it (casework's rule, `Role.acknowledged_from`), so only the
    center's message carries a link; the counselor and the teacher are told, without one.
    Before, an owner without a tier made every tier 4+ recipient a link holder."""
    await load_samples(notify_pool, cipher, pseudonyms)
    await place_student(notify_pool, pseudonyms)
    escalated = notice(
        pseudonyms,
        Severity.SEVERE,
        owner=Role.COLLEGE_LEADER,
        inform=(Role.COUNSELING_CENTER, Role.RESIDENCE_COUNSELOR, Role.COMMUNITY_PSYCH_TEACHER),
        event_type="shouwang.alert.escalated",
        escalation_level=3,
    )
    async with worker_transaction(notify_pool) as conn:
        await plan_alerts(conn, cipher, POLICY, [escalated], datetime.now(UTC))

    queue = await rows(
        notify_pool,
        "SELECT recipient_ref, context FROM deliveries WHERE source_event_id = $1",
        escalated.event_id,
    )
    linked = {r["recipient_ref"] for r in queue if json.loads(r["context"])["link_id"] is not None}
    told = {r["recipient_ref"] for r in queue}
    people = {no: pseudonyms.person_ref("demo", no) for no in ("T1001", "T2001", "T3001")}
    assert {people["T1001"], people["T2001"], people["T3001"]} <= told
    assert linked == {people["T3001"]}
    links = await rows(
        notify_pool,
        "SELECT person_ref FROM ack_links WHERE alert_id = $1",
        escalated.alert_id,
    )
    assert {r["person_ref"] for r in links} == {people["T3001"]}
