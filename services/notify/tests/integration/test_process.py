"""Notify as a real process on real Kafka and PostgreSQL, with real SMTP and HTTP receivers:
what goes out for an alert, the links, the API's refusals and the logs. Kill -9 and restarts
are in test_process_restarts.py; the fixtures in conftest.py, the helpers in notify_processes.py.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from notify_kafka import (
    NotificationWatcher,
    alert,
    case_with_consent,
    directory,
    escalated,
    publish,
    until_directory_applied,
    until_notify_holds,
)
from notify_processes import STAFF, Campus, import_samples, with_contacts_and_staff
from notify_receivers import HttpSink, SmtpSink, until
from shouwang_contracts.vocabulary import Role, Severity
from shouwang_devstack.services import ServiceProcess

pytestmark = pytest.mark.integration


async def test_a_severe_alert_reaches_owner_informed_tiers_and_guardian_once(
    notify_process: Callable[..., ServiceProcess],
    kafka_bootstrap: str,
    campus: Campus,
    http_sink: HttpSink,
    smtp_sink: SmtpSink,
) -> None:
    notify = await notify_process().start_async()
    watcher = await NotificationWatcher(kafka_bootstrap).start()
    try:
        async with httpx.AsyncClient(base_url=notify.base_url, timeout=30) as client:
            await import_samples(client, campus)
        student = campus.student()
        severe = alert(
            campus.id,
            student,
            Severity.SEVERE,
            inform=(Role.RESIDENCE_COUNSELOR, Role.COMMUNITY_PSYCH_TEACHER, Role.COLLEGE_LEADER),
        )
        await publish(
            kafka_bootstrap,
            directory(campus.id, campus.pseudonyms, "2024020001", STAFF),
            *case_with_consent(campus.id, student, Severity.SEVERE),
        )
        # The directory and the consent first, as they would have come (three topics, three
        # groups: each may join seconds after the others on a loaded machine).
        dsn = notify.env["NOTIFY_DATABASE_URL"]
        await until_directory_applied(dsn, campus.id, student)
        await until_notify_holds(
            dsn,
            "SELECT count(*) FROM cases WHERE campus_id = $1 AND student_ref = $2"
            " AND consent = 'given'",
            campus.id,
            student,
            what="the family-contact consent",
        )
        await publish(kafka_bootstrap, severe)
        delivered = await watcher.wait("shouwang.notification.delivered", count=6)
        sms_to = sorted(r.body["to"] for r in http_sink.at("/sms"))
        assert sms_to == ["13800000004", "13900000001", "13900000002"]  # owner + both guardians
        mentioned = sorted(
            r.body["text"]["mentioned_list"][0] for r in http_sink.at("/cgi-bin/webhook/send")
        )
        assert mentioned == ["wx_t1001", "wx_t2001"]
        (mail,) = smtp_sink.to("t4001@example.com")
        assert "重度预警" in mail.subject
        # Kafka delivers the same event again: nothing new goes out. The consumer counts it
        # a duplicate as it lands (a new event would have been landed and planned instead).
        await publish(kafka_bootstrap, severe)
        deduplicated = (
            'notify_deduplicated_total{channel="all",event_type="shouwang.alert.raised"} 1.0'
        )
        deadline = asyncio.get_running_loop().time() + 60
        async with httpx.AsyncClient(base_url=notify.base_url, timeout=30) as client:
            while deduplicated not in (exposition := (await client.get("/metrics")).text):
                assert asyncio.get_running_loop().time() < deadline, "no redelivery seen"
                await asyncio.sleep(0.1)
        assert len(http_sink.requests) == 5
        assert len(smtp_sink.messages) == 1
        assert len(watcher.of_type("shouwang.notification.delivered")) == len(delivered) == 6
        for line in (
            'notify_sent_total{channel="sms",event_type="shouwang.alert.raised"} 1.0',
            # The consent came first, on a severe case: the guardians heard then, once.
            'notify_sent_total{channel="sms",event_type="shouwang.case.family_contact_decided"} 2.0',
            'notify_deduplicated_total{channel="all",event_type="shouwang.alert.raised"} 1.0',
            'notify_alert_to_first_delivery_seconds_count{severity="severe"} 1.0',
        ):
            assert line in exposition, line
        assert "notify_queue_depth" in exposition
        assert "notify_queue_oldest_seconds" in exposition
    finally:
        await watcher.stop()


async def test_a_mild_alert_reaches_no_one_at_once(
    notify_process: Callable[..., ServiceProcess],
    kafka_bootstrap: str,
    campus: Campus,
    http_sink: HttpSink,
    smtp_sink: SmtpSink,
) -> None:
    notify = await notify_process().start_async()
    async with httpx.AsyncClient(base_url=notify.base_url, timeout=30) as client:
        await import_samples(client, campus)
        student = campus.student()
        await publish(kafka_bootstrap, directory(campus.id, campus.pseudonyms, "2024020001", STAFF))
        await until_directory_applied(notify.env["NOTIFY_DATABASE_URL"], campus.id, student)
        await publish(
            kafka_bootstrap,
            alert(campus.id, student, Severity.MILD, owner=Role.RESIDENCE_COUNSELOR),
        )
        probe = alert(campus.id, student, Severity.SEVERE)  # a severe one after it, as a marker
        await publish(kafka_bootstrap, probe)
        await until(lambda: http_sink.at("/sms"), what="the severe marker")
        # Planners take the gravest first: the marker says nothing of the mild one until the
        # inbox is empty (each alert leaves it as it is planned).
        await until_notify_holds(
            notify.env["NOTIFY_DATABASE_URL"],
            "SELECT count(*) = 0 FROM alert_inbox WHERE campus_id = $1",
            campus.id,
            what="both alerts planned",
        )
        # The mild alert is waiting for the owner's digest, not in any channel.
        answer = await client.get("/v1/deliveries", headers=campus.bearer(Role.COUNSELING_CENTER))
        assert answer.status_code == 200
        assert {d["recipient_role"] for d in answer.json()} == {"counseling_center"}
    assert not http_sink.at("/cgi-bin/webhook/send")


async def test_an_escalation_to_a_college_leader_nobody_holds_reaches_the_on_duty_line_at_once(
    notify_process: Callable[..., ServiceProcess],
    kafka_bootstrap: str,
    campus: Campus,
    http_sink: HttpSink,
) -> None:
    """The demo's 医学院 over Kafka: no college leader holds the student, and a severe alert
    the center let pass climbs to that rung (the last one). The escalation itself reaches the
    on-duty line, which is told it has the alert; the center is told the rung is empty, not
    that the leader is handling it. Triage sets no on-duty flag: notify decides from the
    roster it knows."""
    notify = await notify_process().start_async()
    async with httpx.AsyncClient(base_url=notify.base_url, timeout=30) as client:
        await import_samples(client, campus)
    no_leader = {role: no for role, no in STAFF.items() if role is not Role.COLLEGE_LEADER}
    await publish(kafka_bootstrap, directory(campus.id, campus.pseudonyms, "2024030002", no_leader))
    # The directory first, as it would have come.
    await until_directory_applied(
        notify.env["NOTIFY_DATABASE_URL"], campus.id, campus.student("2024030002")
    )
    to_leader = escalated(
        campus.id,
        campus.student("2024030002"),
        Severity.SEVERE,
        from_role=Role.COUNSELING_CENTER,
        owner=Role.COLLEGE_LEADER,
        inform=(Role.COUNSELING_CENTER, Role.RESIDENCE_COUNSELOR, Role.COMMUNITY_PSYCH_TEACHER),
        level=3,
    )
    await publish(kafka_bootstrap, to_leader)

    def sms(number: str) -> list[str]:
        return [r.body["text"] for r in http_sink.at("/sms") if r.body["to"] == number]

    await until(lambda: sms("13800000999") and sms("13800000004"), what="duty and center")
    (duty,) = sms("13800000999")
    assert "二级学院领导无人在册，由值班室接手" in duty
    (center,) = sms("13800000004")
    assert "预警已转值班室" in center
    assert "处置中" not in center


async def test_links_confirm_once_and_refuse_the_rest(
    notify_process: Callable[..., ServiceProcess],
    kafka_bootstrap: str,
    campus: Campus,
    http_sink: HttpSink,
) -> None:
    # Three alerts in a few seconds, each with its own SMS and link (not one burst).
    notify = await notify_process(
        NOTIFY_LINK_FLOOR_HOURS="0", NOTIFY_ALERT_BURST_WINDOW_SECONDS="0"
    ).start_async()
    watcher = await NotificationWatcher(kafka_bootstrap).start()
    try:
        async with httpx.AsyncClient(base_url=notify.base_url, timeout=30) as client:
            await import_samples(client, campus)
            student = campus.student()
            await publish(
                kafka_bootstrap, directory(campus.id, campus.pseudonyms, "2024020001", STAFF)
            )
            await until_directory_applied(notify.env["NOTIFY_DATABASE_URL"], campus.id, student)
            await publish(kafka_bootstrap, alert(campus.id, student, Severity.CRITICAL))
            (sms,) = await until(
                lambda: [r for r in http_sink.at("/sms") if r.body["to"] == "13800000004"]
            )
            code = re.search(r"/ack/s/([A-Z0-9]+)", sms.body["text"])
            assert code is not None
            page = await client.get(f"/ack/s/{code[1]}")
            assert page.status_code == 200
            assert "确认接手" in page.text
            assert page.headers["cache-control"] == "no-store"
            english = await client.get(f"/ack/s/{code[1]}", headers={"Accept-Language": "en"})
            assert "Confirm" in english.text
            confirmed = await client.post(f"/ack/s/{code[1]}")
            assert confirmed.status_code == 200
            # It links on to the app (the desk: notify has heard of no case in this test).
            assert 'href="https://app.example.edu/desk"' in confirmed.text
            (ack,) = await watcher.wait("shouwang.notification.acknowledged")
            assert ack["data"]["person_ref"] == campus.pseudonyms.person_ref(campus.id, "T3001")
            replayed = await client.post(f"/ack/s/{code[1]}")
            assert replayed.status_code == 409
            assert "已使用" in replayed.text
            forged = await client.get("/ack/eyJsIjoiZm9yZ2VkIn0.c2lnbmF0dXJl")
            assert forged.status_code == 404
            # A link whose alert's deadline passed (and no floor) has expired.
            await publish(
                kafka_bootstrap,
                alert(campus.id, student, Severity.SEVERE, deadline=-timedelta(minutes=5)),
            )
            late = await until(
                lambda: [r for r in http_sink.at("/sms") if r.body["to"] == "13800000004"][1:]
            )
            expired_code = re.search(r"/ack/s/([A-Z0-9]+)", late[0].body["text"])
            assert expired_code is not None
            expired = await client.post(f"/ack/s/{expired_code[1]}")
            assert expired.status_code == 410
            # Another person, signed in, opening a colleague's link.
            await publish(kafka_bootstrap, alert(campus.id, student, Severity.SEVERE))
            third = await until(
                lambda: [r for r in http_sink.at("/sms") if r.body["to"] == "13800000004"][2:]
            )
            other_code = re.search(r"/ack/s/([A-Z0-9]+)", third[0].body["text"])
            assert other_code is not None
            other = await client.post(
                f"/ack/s/{other_code[1]}",
                headers=campus.bearer(Role.COUNSELING_CENTER, sub="T3002"),
            )
            assert other.status_code == 403
        assert len(watcher.of_type("shouwang.notification.acknowledged")) == 1
    finally:
        await watcher.stop()


async def test_the_api_refuses_clearly(
    notify_process: Callable[..., ServiceProcess], campus: Campus
) -> None:
    notify = await notify_process().start_async()
    async with httpx.AsyncClient(base_url=notify.base_url, timeout=30) as client:
        bad = "工号/学号,姓名,手机,邮箱,首选渠道\nT1,甲,123,,短信\nT2,乙,,x@y.cn,钉钉\n".encode(
            "gb18030"
        )
        answer = await client.post(
            "/v1/imports/staff-contacts",
            files={"file": ("staff.csv", bad, "text/csv")},
            headers=campus.bearer(Role.CAMPUS_ADMIN),
        )
        assert answer.status_code == 422
        problem: dict[str, Any] = answer.json()
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert [(e["row"], e["field"]) for e in problem["errors"]] == [
            (2, "mobile"),
            (3, "preferred"),
        ]
        assert problem["errors"][0] == {
            "row": 2,
            "field": "mobile",
            "code": "invalid_mobile",
            "message": "手机号格式不正确（应为 11 位手机号）",
        }
        legacy = await client.post(
            "/v1/imports/family-contacts",
            files={"file": ("family.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100))},
            headers=campus.bearer(Role.CAMPUS_ADMIN),
        )
        assert (legacy.status_code, legacy.json()["code"]) == (415, "legacy_excel")
        # UTF-8 past the part the encoding is guessed from, then a GB18030 row: no table,
        # answered 415 as casework answers the same file (the kit's upload rules)
        head = "工号/学号,姓名,手机,邮箱,首选渠道\n".encode()
        rows = b"".join(f"T{n},甲,13800000000,,短信\n".encode() for n in range(12_000))
        mixed = head + rows + "T0,乙,13800000001,,短信\n".encode("gb18030")
        undecodable = await client.post(
            "/v1/imports/staff-contacts",
            files={"file": ("staff.csv", mixed, "text/csv")},
            headers={**campus.bearer(Role.CAMPUS_ADMIN), "Accept-Language": "en"},
        )
        assert (undecodable.status_code, undecodable.json()["code"]) == (415, "unknown_encoding")
        assert undecodable.json()["detail"].startswith("The file is not valid utf-8")
        english = await client.post(
            "/v1/imports/staff-contacts",
            files={"file": ("staff.csv", bad, "text/csv")},
            headers={**campus.bearer(Role.CAMPUS_ADMIN), "Accept-Language": "en"},
        )
        assert "nothing was imported" in english.json()["detail"]
        assert english.json()["errors"][0]["message"] == (
            "mobile number is malformed (11 digits expected)"
        )
        listed = await client.get("/v1/contacts/staff", headers=campus.bearer(Role.CAMPUS_ADMIN))
        assert listed.json() == []  # all or nothing
        assert (await client.get("/v1/contacts/staff")).status_code == 401
        forbidden = await client.get("/v1/deliveries", headers=campus.bearer(Role.CAMPUS_ADMIN))
        assert forbidden.status_code == 403
        hour = await client.put(
            "/v1/settings/digest-hour",
            json={"digest_hour": 25},
            headers=campus.bearer(Role.CAMPUS_ADMIN),
        )
        assert hour.status_code == 422


async def test_logs_leak_no_contact_detail_and_no_robot_key(
    notify_process: Callable[..., ServiceProcess],
    kafka_bootstrap: str,
    campus: Campus,
    http_sink: HttpSink,
) -> None:
    notify = await notify_process(LOG_LEVEL="DEBUG").start_async()
    student = await with_contacts_and_staff(notify, kafka_bootstrap, campus, STAFF)
    await publish(
        kafka_bootstrap,
        alert(campus.id, student, Severity.CRITICAL, inform=(Role.RESIDENCE_COUNSELOR,)),
    )
    await until(lambda: len(http_sink.requests) >= 3, what="the SMS, WeCom and on-duty messages")
    await asyncio.sleep(1.0)
    log = notify.log_text()
    for secret in (
        "test-key",
        "test-token",
        "13800000004",
        "13800000999",
        "wx_t1001",
        "@example.com",
    ):
        assert secret not in log, secret
