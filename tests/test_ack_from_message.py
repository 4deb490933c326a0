"""An alert's message reaches its owner, and confirming its link stops the escalation.

Triage, casework and notify run as real processes on the session's real Kafka and
PostgreSQL, with notify's channels pointed at real local receivers (an SMTP server and an
HTTP server for the robots and the SMS gateway). Two students are reported at once on a
campus whose ladder escalates after 20 s: the owner confirms one alert from the link in
their message (notify → `notification.acknowledged` → casework → `alert.acknowledged` →
triage), and only the other one escalates.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from shouwang_contracts.auth import mint_token
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events.intake import ReportSubmitted
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_contracts.topics import ALERTS, CASES
from shouwang_contracts.vocabulary import Role, Signal
from shouwang_devstack._proc import free_port
from shouwang_devstack.fresh_groups import start_fresh_groups
from shouwang_devstack.topics import assign_at_end

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services" / "notify" / "tests"))
from notify_receivers import HttpSink, SmtpSink

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
ESCALATE_AFTER = 20  # seconds, this test's campus ladder: room for a busy machine
# Where each role's holder for 8号楼 is reached (contacts_staff.csv): the text their message
# must be found in.
ADDRESSED = {
    Role.RESIDENCE_COUNSELOR: ("/robot/send", "13800000002"),
    Role.COMMUNITY_PSYCH_TEACHER: ("/cgi-bin/webhook/send", "wx_t2001"),
    Role.COUNSELING_CENTER: ("/sms", "13800000004"),
}
_LINK = re.compile(r"https://shouwang\.example\.edu(/ack/[A-Za-z0-9_.\-/]+)")


def ladder(campus: str) -> str:
    rungs = ", ".join(
        f"{level}: {{ack_within: {ESCALATE_AFTER}s, escalate_within: {ESCALATE_AFTER}s}}"
        for level in ("mild", "moderate", "severe", "critical")
    )
    return f"{campus}:\n  ladder:\n    rungs: {{{rungs}}}\n"


def report(campus: str, student_ref: str) -> Envelope[ReportSubmitted]:
    now = datetime.now(UTC)
    payload = ReportSubmitted(
        report_id=str(uuid.uuid4()),
        student_ref=student_ref,
        reporter_ref="per_reporter",
        reporter_role=Role.FLOOR_LEADER,
        signals=[Signal.SELF_HARM_BEHAVIOR],
        observed_at=now - timedelta(minutes=30),
        received_at=now,
    )
    return Envelope.wrap(payload, source="/shouwang/intake", campus_id=campus, subject=student_ref)


async def notify_knows_owners(dsn: str, campus: str, students: tuple[str, ...]) -> bool:
    """Whether notify has applied a directory entry naming a residence counsellor for each."""
    conn = await asyncpg.connect(dsn)
    try:
        # Notify's tables are row-level secured per campus; its workers read them all so.
        await conn.execute("SELECT set_config('shouwang.all_campuses', 'on', false)")
        known = await conn.fetchval(
            "SELECT count(DISTINCT student_ref) FROM responsible WHERE campus_id = $1"
            " AND student_ref = ANY($2::text[]) AND role = 'residence_counselor'",
            campus,
            list(students),
        )
        return bool(known == len(students))
    finally:
        await conn.close()


async def triage_heard(dsn: str, ack: dict[str, Any]) -> bool:
    """Whether triage has applied casework's `alert.acknowledged` to its alert."""
    conn = await asyncpg.connect(dsn)
    try:
        status = await conn.fetchval(
            "SELECT status FROM alerts WHERE alert_id = $1", ack["data"]["alert_id"]
        )
        return bool(status == "acknowledged")
    finally:
        await conn.close()


def owner_link(http_sink: HttpSink, role: Role) -> str | None:
    path, address = ADDRESSED[role]
    for request in http_sink.at(path):
        text = json.dumps(request.body, ensure_ascii=False)
        if address in text:
            found = _LINK.search(text)
            if found:
                return found[1]
    return None


async def test_a_link_in_the_message_stops_the_escalation(
    service_process: Any, devstack_env: dict[str, str], kafka_bootstrap: str, tmp_path: Path
) -> None:
    campus = f"ack{uuid.uuid4().hex[:6]}"
    secret = devstack_env["SHOUWANG_JWT_SECRET"]
    pseudonyms = Pseudonymizer(devstack_env["SHOUWANG_PSEUDONYM_KEY"].encode())
    admin = {
        "Authorization": f"Bearer {mint_token(secret, sub='A001', role=Role.CAMPUS_ADMIN, campus_id=campus)}"
    }
    campus_file = tmp_path / "campuses.yaml"
    campus_file.write_text(ladder(campus), encoding="utf-8")
    smtp, http_sink = SmtpSink(free_port()).start(), HttpSink().start()
    try:
        # Groups of their own at the topics' end: the default ones would first work through
        # what earlier tests left (thousands of reports, alerts and case events).
        groups = await start_fresh_groups(kafka_bootstrap, ("triage", "casework", "notify"))
        triage = service_process(
            "triage",
            {
                **groups["triage"],
                "TRIAGE_CAMPUS_FILE": str(campus_file),
                "TRIAGE_ESCALATION_INTERVAL_SECONDS": "0.5",
            },
        )
        casework = service_process(
            "casework", {**groups["casework"], "CASEWORK_CAMPUSES": json.dumps([campus])}
        )
        notify = service_process(
            "notify",
            {
                **groups["notify"],
                "NOTIFY_SMTP_HOST": "127.0.0.1",
                "NOTIFY_SMTP_PORT": str(smtp.port),
                "NOTIFY_SMTP_SECURITY": "insecure",
                "NOTIFY_SMS_URL": f"{http_sink.url}/sms",
                "NOTIFY_WECOM_ROBOT_KEY": "k",
                "NOTIFY_WECOM_API_BASE": http_sink.url,
                "NOTIFY_DINGTALK_ROBOT_TOKEN": "t",
                "NOTIFY_DINGTALK_API_BASE": http_sink.url,
                "NOTIFY_RATE_WECOM": "100",
                "NOTIFY_RATE_DINGTALK": "100",
                "NOTIFY_PUBLIC_BASE_URL": "https://shouwang.example.edu",
            },
        )
        await asyncio.gather(triage.start_async(), casework.start_async(), notify.start_async())
        async with httpx.AsyncClient(timeout=30) as client:
            for kind, name in (("students", "roster_students.csv"), ("staff", "roster_staff.csv")):
                answer = await client.post(
                    f"{casework.base_url}/v1/roster/{kind}",
                    files={"file": (name, (SAMPLES / name).read_bytes(), "text/csv")},
                    headers=admin,
                )
                assert answer.status_code == 200, answer.text
            for kind in ("staff", "family"):
                name = f"contacts_{kind}.csv"
                answer = await client.post(
                    f"{notify.base_url}/v1/imports/{kind}-contacts",
                    files={"file": (name, (SAMPLES / name).read_bytes(), "text/csv")},
                    headers=admin,
                )
                assert answer.status_code == 201, answer.text

            # Two students of one building: the same person owns both alerts and gets a link
            # for each. A message names no student, so which alert the first link confirms is
            # learnt from casework's `alert.acknowledged`, and the other one must escalate.
            students = (
                pseudonyms.student_ref(campus, "2024020001"),  # 8号楼
                pseudonyms.student_ref(campus, "2024010003"),  # 8号楼 too
            )
            # The directory entries the roster import published, applied by notify (who holds
            # each role): its directory group joins on its own, and may be seconds behind the
            # groups the reports and alerts go through; an alert routed before it finds the
            # owner's rung empty. (Triage grades and routes without the directory.)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 120
            while not await notify_knows_owners(
                notify.env["NOTIFY_DATABASE_URL"], campus, students
            ):
                assert loop.time() < deadline, "notify never applied the roster's directory"
                await asyncio.sleep(0.3)
            watcher = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False)
            await watcher.start()
            producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
            await producer.start()
            try:
                await assign_at_end(watcher, ALERTS, CASES)
                for student in students:
                    envelope = report(campus, student)
                    await producer.send_and_wait(
                        envelope.topic,
                        envelope.to_bytes(),
                        key=envelope.key,
                        headers=envelope.kafka_headers(),
                    )
                events: list[dict[str, Any]] = []

                async def read(seconds: float) -> None:
                    batches = await watcher.getmany(timeout_ms=int(seconds * 1000))
                    events.extend(
                        json.loads(r.value)
                        for rs in batches.values()
                        for r in rs
                        if json.loads(r.value)["campus_id"] == campus
                    )

                def of(student: str, kind: str) -> list[dict[str, Any]]:
                    return [e for e in events if e["subject"] == student and e["type"] == kind]

                # Three services join their consumer groups first: slow on a busy machine.
                deadline = loop.time() + 120
                while not all(of(s, "shouwang.alert.raised") for s in students):
                    assert loop.time() < deadline, f"no alerts raised: {events}"
                    await read(0.3)
                (raised,) = of(students[0], "shouwang.alert.raised")
                owner = Role(raised["data"]["owner_role"])
                link = None
                while link is None:
                    assert loop.time() < deadline, f"no message with a link reached the {owner}"
                    link = owner_link(http_sink, owner)
                    await read(0.2)
                page = await client.get(f"{notify.base_url}{link}")
                assert page.status_code == 200, page.text
                done = await client.post(f"{notify.base_url}{link}")
                assert done.status_code == 200, done.text
                acknowledged: list[dict[str, Any]] = []
                while not acknowledged:
                    assert loop.time() < deadline, "casework never recorded the confirmation"
                    acknowledged = [
                        e for s in students for e in of(s, "shouwang.alert.acknowledged")
                    ]
                    await read(0.3)
                (ack,) = acknowledged
                confirmed = ack["subject"]
                (ignored,) = (s for s in students if s != confirmed)
                (confirmed_raised,) = of(confirmed, "shouwang.alert.raised")
                assert ack["data"]["alert_id"] == confirmed_raised["data"]["alert_id"]
                # When triage has heard it (over Kafka, as far behind as its group is): from
                # then on, the confirmed alert must never escalate.
                deadline = loop.time() + 120
                while not await triage_heard(triage.env["TRIAGE_DATABASE_URL"], ack):
                    assert loop.time() < deadline, "triage never heard the confirmation"
                    await read(0.3)
                heard_by = datetime.now(UTC)

                # The ignored alert escalates at its deadline; the confirmed one, raised at the
                # same moment, does not (a few seconds more for one in flight to show). The wait
                # is generous: on two loaded cores one run saw the escalation after 60 s.
                deadline = loop.time() + 6 * ESCALATE_AFTER
                while not of(ignored, "shouwang.alert.escalated"):
                    assert loop.time() < deadline, "the unconfirmed alert never escalated"
                    await read(0.5)
                settle = loop.time() + 3
                while loop.time() < settle:
                    await read(0.5)
            finally:
                await producer.stop()
                await watcher.stop()

            # The link stops the escalation once triage hears of it. On a loaded machine the
            # confirmation may land at the alert's own deadline (the chain took a loaded run
            # past 20 s), and an escalation triage decided before it heard is right; none may
            # come later (ignoring it, triage would escalate a rung later, 20 s after).
            late = [
                e
                for e in of(confirmed, "shouwang.alert.escalated")
                if datetime.fromisoformat(e["time"]) >= heard_by
            ]
            assert late == [], triage.log_text()[-2000:]
            metrics = (await client.get(f"{triage.base_url}/metrics")).text
            assert re.search(r"^triage_alerts_acknowledged_total\{[^}]*\} [1-9]", metrics, re.M)
    finally:
        smtp.stop()
        http_sink.stop()
