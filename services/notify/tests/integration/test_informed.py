"""Oversight notices grouped per person: a census burst tells the college leader at once that
something is happening, then the rest of the burst in one message; every tier that may act
still hears of each alert alone."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from notify_delivery import FAST_RETRY, SHANGHAI, load_samples, notice, rows
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_contracts.vocabulary import Role, Severity
from shouwang_notify.adapters import state
from shouwang_notify.adapters.db import worker_transaction
from shouwang_notify.domain.routing import Responsible
from shouwang_notify.service_layer.alerts import plan_alerts
from shouwang_notify.service_layer.bundles import flush_bundles
from shouwang_notify.service_layer.policy import NotifyPolicy

pytestmark = pytest.mark.integration
# The owner's own burst (one message at once, the rest together) is test_alert_bursts.py's:
# here each of the owner's alerts goes alone, to follow the oversight notices alone.
POLICY = NotifyPolicy(retry=FAST_RETRY, zone=SHANGHAI, burst_window=timedelta(0))
WINDOW = POLICY.informed_window
CAMPUS = "demo"
INFORM = (Role.RESIDENCE_COUNSELOR, Role.COMMUNITY_PSYCH_TEACHER, Role.COLLEGE_LEADER)
STUDENTS = [f"20249970{n:02d}" for n in range(5)]


async def place(pool: asyncpg.Pool, pseudonyms: Pseudonymizer, student_no: str) -> None:
    """The directory: T1001 counselor, T2001 teacher, T3001 center, T4001 college leader."""
    people = [
        Responsible(role, pseudonyms.person_ref(CAMPUS, staff_no))
        for role, staff_no in (
            (Role.RESIDENCE_COUNSELOR, "T1001"),
            (Role.COMMUNITY_PSYCH_TEACHER, "T2001"),
            (Role.COUNSELING_CENTER, "T3001"),
            (Role.COLLEGE_LEADER, "T4001"),
        )
    ]
    async with worker_transaction(pool) as conn:
        await state.replace_responsible(
            conn, CAMPUS, pseudonyms.student_ref(CAMPUS, student_no), people
        )


async def messages_to(pool: asyncpg.Pool, person_ref: str) -> list[asyncpg.Record]:
    return await rows(
        pool,
        "SELECT template, source_event_id, context FROM deliveries"
        " WHERE recipient_ref = $1 ORDER BY id",
        person_ref,
    )


async def test_a_burst_tells_the_college_leader_once_at_once_and_the_rest_together(
    notify_pool: asyncpg.Pool, cipher: NoteCipher, pseudonyms: Pseudonymizer
) -> None:
    """Graded example (policy rungs `severe`/`critical` inform the college leader): a census
    grades five students of one college within a minute. Before, the leader received five
    identical "知会" messages in the same second. Now: the gravest at once, the other four in
    one message when the window ends, gravest first; the counselor (who may act) and the
    center (the owner) still hear of each of the five alone, at once."""
    await load_samples(notify_pool, cipher, pseudonyms)
    for student_no in STUDENTS:
        await place(notify_pool, pseudonyms, student_no)
    severities = [Severity.SEVERE, Severity.CRITICAL, Severity.SEVERE, Severity.SEVERE]
    burst = [
        notice(pseudonyms, grade, inform=INFORM, student_no=no)
        for grade, no in zip(severities, STUDENTS, strict=False)
    ]
    start = datetime.now(UTC)
    async with worker_transaction(notify_pool) as conn:
        await plan_alerts(conn, cipher, POLICY, burst, start)
    # A moment later, another batch of the same burst: the window is still open.
    late = notice(pseudonyms, Severity.SEVERE, inform=INFORM, student_no=STUDENTS[4])
    async with worker_transaction(notify_pool) as conn:
        await plan_alerts(conn, cipher, POLICY, [late], start + timedelta(seconds=30))

    leader = pseudonyms.person_ref(CAMPUS, "T4001")
    counselor = pseudonyms.person_ref(CAMPUS, "T1001")
    center = pseudonyms.person_ref(CAMPUS, "T3001")
    first = await messages_to(notify_pool, leader)
    assert [(m["template"], m["source_event_id"]) for m in first] == [
        ("alert_informed", burst[1].event_id)  # the critical one, at once
    ]
    assert [m["template"] for m in await messages_to(notify_pool, counselor)] == [
        "alert_informed"
    ] * 5
    assert [m["template"] for m in await messages_to(notify_pool, center)] == ["alert"] * 5

    # Nothing more before the window ends ...
    async with worker_transaction(notify_pool) as conn:
        assert await flush_bundles(conn, cipher, POLICY, start + WINDOW - timedelta(seconds=1)) == 0
    # ... then the four others in one message, none of them lost or doubled.
    async with worker_transaction(notify_pool) as conn:
        assert await flush_bundles(conn, cipher, POLICY, start + WINDOW) == 1
    after = await messages_to(notify_pool, leader)
    assert [m["template"] for m in after] == ["alert_informed", "alerts_informed"]
    grouped = json.loads(after[1]["context"])
    assert grouped["count"] == 4
    assert {i["alert_id"] for i in grouped["items"]} == {
        n.alert_id for n in [burst[0], *burst[2:], late]
    }

    # The window over, the next alert reaches the leader at once again.
    again = notice(pseudonyms, Severity.SEVERE, inform=INFORM, student_no=STUDENTS[0])
    async with worker_transaction(notify_pool) as conn:
        await plan_alerts(conn, cipher, POLICY, [again], start + WINDOW + timedelta(seconds=1))
    templates = [m["template"] for m in await messages_to(notify_pool, leader)]
    assert templates == ["alert_informed", "alerts_informed", "alert_informed"]


async def test_grouping_can_be_switched_off(
    notify_pool: asyncpg.Pool, cipher: NoteCipher, pseudonyms: Pseudonymizer
) -> None:
    await load_samples(notify_pool, cipher, pseudonyms)
    for student_no in STUDENTS[:3]:
        await place(notify_pool, pseudonyms, student_no)
    burst = [
        notice(pseudonyms, Severity.SEVERE, inform=INFORM, student_no=no) for no in STUDENTS[:3]
    ]
    each_alone = NotifyPolicy(retry=FAST_RETRY, zone=SHANGHAI, informed_window=timedelta(0))
    async with worker_transaction(notify_pool) as conn:
        await plan_alerts(conn, cipher, each_alone, burst, datetime.now(UTC))
    leader = pseudonyms.person_ref(CAMPUS, "T4001")
    assert [m["template"] for m in await messages_to(notify_pool, leader)] == ["alert_informed"] * 3


async def test_an_alert_raised_and_escalated_in_one_window_is_one_line_for_the_leader(
    notify_pool: asyncpg.Pool, cipher: NoteCipher, pseudonyms: Pseudonymizer
) -> None:
    """Graded example (policy rung `severe` informs the college leader; an unconfirmed alert
    climbs a rung): a critical alert reaches the leader at once; a severe one owned by the
    counselor waits in the window's bundle, and a minute later, still within the window, it
    is escalated to the counseling center. Before, the leader's bundle listed that alert
    twice and counted two alerts; now it is one line in its latest state (escalated, the
    center's, the new deadline)."""
    await load_samples(notify_pool, cipher, pseudonyms)
    for student_no in STUDENTS[:2]:
        await place(notify_pool, pseudonyms, student_no)
    start = datetime.now(UTC)
    first = notice(pseudonyms, Severity.CRITICAL, inform=INFORM, student_no=STUDENTS[0])
    raised = notice(
        pseudonyms,
        Severity.SEVERE,
        owner=Role.RESIDENCE_COUNSELOR,
        inform=INFORM,
        student_no=STUDENTS[1],
    )
    async with worker_transaction(notify_pool) as conn:
        await plan_alerts(conn, cipher, POLICY, [first, raised], start)
    escalated = notice(
        pseudonyms,
        Severity.SEVERE,
        owner=Role.COUNSELING_CENTER,
        inform=INFORM,
        student_no=STUDENTS[1],
        alert_id=raised.alert_id,
        event_type="shouwang.alert.escalated",
        escalation_level=1,
        ack_deadline=raised.ack_deadline + timedelta(hours=1),
        occurred_at=raised.occurred_at + timedelta(minutes=1),
    )
    async with worker_transaction(notify_pool) as conn:
        await plan_alerts(conn, cipher, POLICY, [escalated], start + timedelta(minutes=1))
    async with worker_transaction(notify_pool) as conn:
        assert await flush_bundles(conn, cipher, POLICY, start + WINDOW) == 1

    leader = pseudonyms.person_ref(CAMPUS, "T4001")
    sent = await messages_to(notify_pool, leader)
    assert [m["template"] for m in sent] == ["alert_informed", "alerts_informed"]
    grouped = json.loads(sent[1]["context"])
    assert grouped["count"] == 1
    [line] = grouped["items"]
    assert line["alert_id"] == raised.alert_id
    assert line["escalated"] is True
    assert line["owner_role"] == Role.COUNSELING_CENTER.value
    assert line["deadline"] == escalated.ack_deadline.isoformat()


async def test_an_alert_acknowledged_while_held_drops_out_of_the_leaders_bundle(
    notify_pool: asyncpg.Pool, cipher: NoteCipher, pseudonyms: Pseudonymizer
) -> None:
    """Graded example (policy rung `severe` informs the college leader): of a census burst of
    three, the critical one reaches the leader at once and two severe ones wait in the
    window; the center confirms one of them meanwhile. Before, the leader was still told of
    it when the window ended ("又有2条预警"): an alert already taken, and an overseer who may
    send a second person to the same student. Now only the one still unconfirmed is listed;
    and when everything held was confirmed, no message goes at all."""
    await load_samples(notify_pool, cipher, pseudonyms)
    for student_no in STUDENTS[:3]:
        await place(notify_pool, pseudonyms, student_no)
    start = datetime.now(UTC)
    grades = [Severity.CRITICAL, Severity.SEVERE, Severity.SEVERE]
    burst = [
        notice(pseudonyms, grade, inform=INFORM, student_no=no)
        for grade, no in zip(grades, STUDENTS, strict=False)
    ]
    async with worker_transaction(notify_pool) as conn:
        await plan_alerts(conn, cipher, POLICY, burst, start)
        await state.alert_acknowledged(conn, burst[1].alert_id, CAMPUS, start)
    async with worker_transaction(notify_pool) as conn:
        assert await flush_bundles(conn, cipher, POLICY, start + WINDOW) == 1

    leader = pseudonyms.person_ref(CAMPUS, "T4001")
    sent = await messages_to(notify_pool, leader)
    assert [m["template"] for m in sent] == ["alert_informed", "alerts_informed"]
    grouped = json.loads(sent[1]["context"])
    assert grouped["count"] == 1
    assert [i["alert_id"] for i in grouped["items"]] == [burst[2].alert_id]

    # The next window: both held alerts confirmed (one through its owner's link), no message.
    again = start + WINDOW + timedelta(seconds=1)
    later = [
        notice(pseudonyms, grade, inform=INFORM, student_no=no)
        for grade, no in zip(grades, STUDENTS, strict=False)
    ]
    async with worker_transaction(notify_pool) as conn:
        await plan_alerts(conn, cipher, POLICY, later, again)
        await state.alert_acknowledged(conn, later[1].alert_id, CAMPUS, again)
        await conn.execute(
            "UPDATE ack_links SET used_at = $2 WHERE alert_id = $1", later[2].alert_id, again
        )
    async with worker_transaction(notify_pool) as conn:
        assert await flush_bundles(conn, cipher, POLICY, again + WINDOW) == 0
    templates = [m["template"] for m in await messages_to(notify_pool, leader)]
    assert templates == ["alert_informed", "alerts_informed", "alert_informed"]
