"""An alert that climbs to a rung nobody holds for the student reaches someone at once, and
every message says who has it.

Graded examples on the bundled ladder (grading-policy.yaml `ladder.escalation_path`:
residence counselor -> psychology teacher -> counseling center -> college leader; 教思政厅函
〔2021〕10号 puts counselors, the center and college leadership on the acting side) and the
escalation principle of DESIGN §1, "escalate level by level until a qualified person owns
it": an empty rung is skipped in the same event, never waited at for a rung's deadline.
Real PostgreSQL and the real local receivers (SMS gateway, robots, SMTP).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest
from notify_delivery import (
    CAMPUS,
    FAST_RETRY,
    SHANGHAI,
    STUDENT_NO,
    dispatcher,
    drain,
    load_samples,
    notice,
    place_student,
    rows,
)
from notify_receivers import HttpSink, SmtpSink
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_contracts.vocabulary import Role, Severity
from shouwang_notify.adapters import state
from shouwang_notify.adapters.db import worker_transaction
from shouwang_notify.domain.routing import AlertNotice, Responsible
from shouwang_notify.service_layer.alerts import plan_alerts
from shouwang_notify.service_layer.policy import NotifyPolicy

pytestmark = pytest.mark.integration
POLICY = NotifyPolicy(retry=FAST_RETRY, zone=SHANGHAI)
ON_DUTY_SMS = "13800000999"  # 主校区值班室 (contacts_staff.csv), by SMS
CENTER_SMS = "13800000004"  # T3001, the counseling center, by SMS


def sms_to(http_sink: HttpSink, number: str) -> list[str]:
    return [r.body["text"] for r in http_sink.at("/sms") if r.body["to"] == number]


async def plan_and_deliver(
    pool: asyncpg.Pool,
    cipher: NoteCipher,
    sinks: tuple[SmtpSink, HttpSink, httpx.AsyncClient],
    notices: list[AlertNotice],
) -> None:
    async with worker_transaction(pool) as conn:
        await plan_alerts(conn, cipher, POLICY, notices, datetime.now(UTC))
    await drain(dispatcher(pool, cipher, *sinks, POLICY))


async def test_an_alert_climbing_to_an_empty_rung_reaches_the_next_staffed_rung_at_once(
    notify_pool: asyncpg.Pool,
    cipher: NoteCipher,
    pseudonyms: Pseudonymizer,
    smtp_sink: SmtpSink,
    http_sink: HttpSink,
    http_client: httpx.AsyncClient,
) -> None:
    """The demo's 医学院: no college leader on its roster. A severe alert the center let pass
    climbs to 二级学院领导, the last rung: the on-duty line has it in the same event (before,
    only at the first re-alert, a rung's deadline later). A moderate alert escalated to the
    psychology teacher of a student with no teacher goes to the center, with its link."""
    await load_samples(notify_pool, cipher, pseudonyms)
    await place_student(notify_pool, pseudonyms)  # counselor, teacher, center: no leader
    to_leader = notice(
        pseudonyms,
        Severity.SEVERE,
        owner=Role.COLLEGE_LEADER,
        inform=(Role.COUNSELING_CENTER, Role.RESIDENCE_COUNSELOR, Role.COMMUNITY_PSYCH_TEACHER),
        event_type="shouwang.alert.escalated",
        escalation_level=3,
    )
    no_teacher = "2024990001"
    async with worker_transaction(notify_pool) as conn:
        await state.replace_responsible(
            conn,
            CAMPUS,
            pseudonyms.student_ref(CAMPUS, no_teacher),
            [
                Responsible(Role.RESIDENCE_COUNSELOR, pseudonyms.person_ref(CAMPUS, "T1001")),
                Responsible(Role.COUNSELING_CENTER, pseudonyms.person_ref(CAMPUS, "T3001")),
            ],
        )
    to_teacher = notice(
        pseudonyms,
        Severity.MODERATE,
        owner=Role.COMMUNITY_PSYCH_TEACHER,
        inform=(Role.RESIDENCE_COUNSELOR,),
        student_no=no_teacher,
        event_type="shouwang.alert.escalated",
        escalation_level=1,
    )
    sinks = (smtp_sink, http_sink, http_client)
    await plan_and_deliver(notify_pool, cipher, sinks, [to_leader, to_teacher])

    (duty,) = sms_to(http_sink, ON_DUTY_SMS)
    assert "二级学院领导无人在册，由值班室接手" in duty
    queued = await rows(
        notify_pool,
        "SELECT source_event_id, recipient_kind, recipient_ref, recipient_role, template, context"
        " FROM deliveries",
    )
    of_teacher = [r for r in queued if r["source_event_id"] == to_teacher.event_id]
    (stand_in,) = [r for r in of_teacher if r["recipient_role"] == Role.COUNSELING_CENTER.value]
    assert stand_in["template"] == "alert"  # the alert itself, not a notice of it
    assert json.loads(stand_in["context"])["link_id"] is not None  # the center may confirm
    assert json.loads(stand_in["context"])["stand_in"] == Role.COUNSELING_CENTER.value
    assert not any(r["recipient_kind"] == "on_duty" for r in of_teacher)  # the center holds it
    # Who was not reached stays on record: the empty rungs, once each.
    missed = await rows(
        notify_pool, "SELECT source_event_id, recipient_role, reason FROM unreached"
    )
    assert sorted((r["recipient_role"], r["reason"]) for r in missed) == [
        ("college_leader", "nobody_holds_role"),
        ("community_psych_teacher", "nobody_holds_role"),
    ]
    assert STUDENT_NO not in json.dumps([dict(r) for r in queued], default=str)


async def test_the_center_is_not_told_an_empty_rung_is_handling_it(
    notify_pool: asyncpg.Pool,
    cipher: NoteCipher,
    pseudonyms: Pseudonymizer,
    smtp_sink: SmtpSink,
    http_sink: HttpSink,
    http_client: httpx.AsyncClient,
) -> None:
    """The walk's finding: the center read 二级学院领导处置中 for an alert nobody held. It is
    told the rung is empty, that the on-duty line has the alert, and may still take it."""
    await load_samples(notify_pool, cipher, pseudonyms)
    await place_student(notify_pool, pseudonyms)
    escalated = notice(
        pseudonyms,
        Severity.SEVERE,
        owner=Role.COLLEGE_LEADER,
        inform=(Role.COUNSELING_CENTER, Role.RESIDENCE_COUNSELOR),
        event_type="shouwang.alert.escalated",
        escalation_level=3,
    )
    await plan_and_deliver(notify_pool, cipher, (smtp_sink, http_sink, http_client), [escalated])

    (center,) = sms_to(http_sink, CENTER_SMS)
    assert "重度预警已转值班室" in center  # the SMS, in one segment: the body names the rung
    assert "处置中" not in center
    assert "https://shouwang.example.edu/ack/s/" in center  # the center may still take it
    (duty,) = sms_to(http_sink, ON_DUTY_SMS)
    assert "请立即联系二级学院领导" not in duty
    counselor = [
        r.body["text"]["content"]
        for r in http_sink.at("/cgi-bin/webhook/send")
        if r.body["text"]["mentioned_list"] == ["wx_t1001"]
    ]
    assert counselor
    assert all("二级学院领导处置中" not in text for text in counselor)
    assert all("暂无人在册，现由值班室接手" in text for text in counselor)
