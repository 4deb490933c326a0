"""Notify's fan-out: 10,000 alerts to three recipients each, against local sinks.

    uv run python bench/notify_throughput.py [--alerts 10000] [--students 100] [--critical-every 50]

Starts real Kafka and PostgreSQL (or uses KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL), a local SMTP
server (aiosmtpd) and an HTTP sink (the SMS gateway and the WeCom robot), then notify as a real
process with its channels pointed at them. Contacts are imported through notify's API, the
directory is published on its topic, then `alert.raised` events are published as fast as Kafka
takes them: each reaches its owner (email, with the link) and two informed tiers (SMS, WeCom);
every `--critical-every`th is critical (and also reaches the on-duty line).

Prints messages/s delivered by notify (first alert published to last message received) beside
a baseline measured in the same run: the same mix of messages sent straight to the same
sinks by a bare client built as a real sender is (in a process of its own, as notify is; mail
on kept-open SMTP connections with aiosmtplib, HTTP on kept-alive httpx connections) with the
same concurrency; and the p50/p99 from `alert.raised` to the first message of each critical alert
while the 10,000 drain (aim: p99 under 2 s). Stops everything it started.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import io
import json
import multiprocessing
import re
import sys
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import asyncpg
import httpx
from aiokafka import AIOKafkaProducer
from itsdangerous import URLSafeSerializer
from shouwang_contracts.envelope import Envelope as Event
from shouwang_contracts.events.casework import ResponsibleStaff, StudentRouting
from shouwang_contracts.events.triage import AlertRaised
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_contracts.topics import ALERTS, DIRECTORY
from shouwang_contracts.vocabulary import Role, Severity
from shouwang_devstack.provision import provision_fresh
from shouwang_devstack.sinks import LocalSinks
from shouwang_devstack.topics import start_groups_at_end
from shouwang_servicekit.kafka.clients import DURABLE_PRODUCER
from stack import (  # bench/ is on sys.path when run as a script
    BenchStack,
    all_campuses,
    bench_stack,
)

CAMPUS = "bench"
OWNER, INFORMED = Role.COUNSELING_CENTER, (Role.RESIDENCE_COUNSELOR, Role.COMMUNITY_PSYCH_TEACHER)
# A critical alert's priority in notify's inbox (its `policy.PRIORITY`; 0 goes first).
CRITICAL_PRIORITY = 0
_TOKEN = re.compile(r"/ack/([A-Za-z0-9_\-.]+)")


@dataclass
class Arrivals:
    """What the sinks received: a count, the time of the last, and each critical's first."""

    count: int = 0
    first: float = 0.0
    last: float = 0.0
    by_alert: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def arrived(self, text: str) -> None:
        now = time.time()
        with self.lock:
            self.count += 1
            self.first = self.first or now
            self.last = now
            match = _TOKEN.search(text)
            if match:
                # The link's claims are signed, not sealed: the bench reads the alert id
                # without the key (`loads_unsafe`), as any reader of the link could.
                _, claims = URLSafeSerializer("unused").loads_unsafe(match[1])
                if isinstance(claims, dict) and "a" in claims:
                    self.by_alert.setdefault(str(claims["a"]), now)

    def reset(self) -> None:
        with self.lock:
            self.count, self.first, self.last = 0, 0.0, 0.0
            self.by_alert.clear()


class Sinks(LocalSinks):
    """devstack's local sinks keeping nothing: they count what they receive."""

    def __init__(self) -> None:
        self.arrivals = Arrivals()
        super().__init__(None, on_message=lambda _channel, text: self.arrivals.arrived(text))


def staff_file(students: int) -> bytes:
    """Three people per student: the owner by email, two informed tiers by SMS and WeCom;
    and the on-duty line (值班). No quiet hours: the bench measures sending, not waiting."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["工号/学号", "手机", "邮箱", "企业微信账号", "首选渠道"])
    for s in range(students):
        writer.writerow([f"O{s:05d}", "", f"owner{s}@bench.example.edu", "", "邮件"])
        writer.writerow([f"C{s:05d}", f"139{s:08d}", "", "", "短信"])
        writer.writerow([f"T{s:05d}", "", "", f"wx_t{s}", "企业微信"])
    writer.writerow(["值班", "13800000999", "", "", "短信"])
    return out.getvalue().encode()


def event(payload: Any, student_ref: str) -> tuple[bytes, bytes]:
    envelope = Event.wrap(payload, source="/bench", campus_id=CAMPUS, subject=student_ref)
    return envelope.key, envelope.to_bytes()


async def publish(
    bootstrap: str, records: list[tuple[str, bytes, bytes]]
) -> tuple[float, list[float]]:
    """Publish (topic, key, value) records as fast as Kafka takes them: when it began, and
    when Kafka acknowledged each record (the moment the alert was raised, for the clock)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, **DURABLE_PRODUCER)
    await producer.start()
    began = time.time()
    acked = [0.0] * len(records)

    def stamp(index: int) -> Any:
        def done(_future: Any) -> None:
            acked[index] = time.time()

        return done

    try:
        pending = []
        for index, (topic, key, value) in enumerate(records):
            future = await producer.send(topic, value, key=key)
            future.add_done_callback(stamp(index))
            pending.append(future)
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return began, acked


def alerts(
    students: list[str], count: int, critical_every: int | None
) -> tuple[list[tuple[str, bytes, bytes]], dict[str, int]]:
    """The alert records, and each critical alert's index among them (every
    `critical_every`th is critical, the first included; None: no critical alert)."""
    records: list[tuple[str, bytes, bytes]] = []
    critical: dict[str, int] = {}
    now = datetime.now(UTC)
    for i in range(count):
        student_ref = students[i % len(students)]
        severity = (
            Severity.CRITICAL
            if critical_every and i % critical_every == 0
            else (Severity.SEVERE if i % 2 else Severity.MODERATE)
        )
        alert_id = str(uuid.uuid4())
        if severity is Severity.CRITICAL:
            critical[alert_id] = i
        payload = AlertRaised(
            alert_id=alert_id,
            assessment_id=str(uuid.uuid4()),
            student_ref=student_ref,
            severity=severity,
            owner_role=OWNER,
            inform_roles=list(INFORMED),
            ack_deadline=now + timedelta(hours=2),
            policy_version="bench",
            raised_at=now,
        )
        records.append((ALERTS, *event(payload, student_ref)))
    return records, critical


async def directory_applied(database: str, students: int, seconds: float) -> bool:
    """Notify consumes the directory and the alerts apart: alerts published before it knows
    who is responsible would reach nobody. Wait until its table says it knows."""
    conn = await asyncpg.connect(database)
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            async with all_campuses(conn):
                known = await conn.fetchval("SELECT count(DISTINCT student_ref) FROM responsible")
            if known >= students:
                return True
            await asyncio.sleep(0.2)
        return False
    finally:
        await conn.close()


async def sent_and_unsettled(database: str) -> tuple[int, int]:
    """Notify's own count of messages sent, and of alerts and messages not yet settled
    (waiting to be planned, queued, or being sent)."""
    conn = await asyncpg.connect(database)
    try:
        async with all_campuses(conn):
            sent = await conn.fetchval("SELECT count(*) FROM deliveries WHERE status = 'sent'")
            unsettled = await conn.fetchval(
                "SELECT (SELECT count(*) FROM alert_inbox) + (SELECT count(*) FROM deliveries"
                " WHERE status IN ('pending', 'sending'))"
            )
        return int(sent), int(unsettled)
    finally:
        await conn.close()


def alert_id(value: bytes) -> str:
    """The alert id of a published `alert.raised` record."""
    return str(json.loads(value)["data"]["alert_id"])


async def sent_for(database: str, alert_ids: list[str]) -> int:
    """Notify's own count of the messages it sent for `alert_ids`."""
    conn = await asyncpg.connect(database)
    try:
        async with all_campuses(conn):
            sent = await conn.fetchval(
                "SELECT count(*) FROM deliveries WHERE status = 'sent'"
                " AND alert_id = ANY($1::text[])",
                alert_ids,
            )
        return int(sent)
    finally:
        await conn.close()


async def queued_at(database: str, alert_ids: list[str]) -> dict[str, float]:
    """When notify queued each alert's first message (planned it), wall clock."""
    conn = await asyncpg.connect(database)
    try:
        async with all_campuses(conn):
            rows = await conn.fetch(
                "SELECT alert_id, min(created_at) AS queued FROM deliveries"
                " WHERE alert_id = ANY($1::text[]) GROUP BY alert_id",
                alert_ids,
            )
        return {row["alert_id"]: row["queued"].timestamp() for row in rows}
    finally:
        await conn.close()


async def watch_landings(database: str, landed: dict[str, float], stop: asyncio.Event) -> None:
    """When each critical alert landed in notify's inbox (its row's `received_at`), seen by
    looking every 20 ms until `stop`: an alert planned within 20 ms of landing may go unseen."""
    conn = await asyncpg.connect(database)
    try:
        while not stop.is_set():
            async with all_campuses(conn):
                rows = await conn.fetch(
                    "SELECT convert_from(event, 'UTF8')::jsonb #>> '{data,alert_id}' AS alert_id,"
                    " received_at FROM alert_inbox WHERE priority = $1",
                    CRITICAL_PRIORITY,
                )
            for row in rows:
                landed.setdefault(row["alert_id"], row["received_at"].timestamp())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.02)
    finally:
        await conn.close()


async def settled(database: str, seconds: float) -> int | None:
    """Wait until notify has nothing left to plan or send; its count of messages sent."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sent, unsettled = await sent_and_unsettled(database)
        if not unsettled:
            return sent
        await asyncio.sleep(0.2)
    return None


async def wait_for(arrivals: Arrivals, expected: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if arrivals.count >= expected:
            return True
        await asyncio.sleep(0.05)
    return False


def bare_client(
    smtp_port: int, http_url: str, messages: int, concurrency: int, smtp_connections: int
) -> float:
    """The baseline's sender, in a process of its own (as notify is): `messages` of notify's
    mix sent as a well-built sender would, `concurrency` at a time: mail on `smtp_connections`
    SMTP connections kept open (aiosmtplib), HTTP on kept-alive connections (httpx).
    Returns when it began (wall clock), once every message was accepted."""
    return asyncio.run(_bare_client(smtp_port, http_url, messages, concurrency, smtp_connections))


async def _bare_client(
    smtp_port: int, http_url: str, messages: int, concurrency: int, smtp_connections: int
) -> float:
    gate = asyncio.Semaphore(concurrency)
    mailers: asyncio.Queue[aiosmtplib.SMTP] = asyncio.Queue()
    for _ in range(smtp_connections):
        mailer = aiosmtplib.SMTP(hostname="127.0.0.1", port=smtp_port, start_tls=False)
        await mailer.connect()
        mailers.put_nowait(mailer)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    body = (
        "【守望】重度预警：请在 2 小时内确认。"
        + "确认链接 https://shouwang.example.edu/ack/"
        + "x" * 120
    )
    async with httpx.AsyncClient(timeout=10, limits=limits) as client:

        async def one(i: int) -> None:
            async with gate:
                kind = i % 3
                if kind == 0:
                    mail = EmailMessage()
                    mail["From"], mail["To"] = (
                        "bench@bench.example.edu",
                        f"owner{i}@bench.example.edu",
                    )
                    mail["Subject"] = "【守望】重度预警"
                    mail.set_content(body)
                    mailer = await mailers.get()
                    try:
                        await mailer.send_message(mail)
                    finally:
                        mailers.put_nowait(mailer)
                elif kind == 1:
                    answer = await client.post(
                        f"{http_url}/sms", json={"to": f"139{i:08d}", "text": body}
                    )
                    answer.raise_for_status()
                else:
                    answer = await client.post(
                        f"{http_url}/cgi-bin/webhook/send",
                        params={"key": "bench"},
                        json={
                            "msgtype": "text",
                            "text": {"content": body, "mentioned_list": ["wx"]},
                        },
                    )
                    answer.raise_for_status()

        began = time.time()
        await asyncio.gather(*(one(i) for i in range(messages)))
    while not mailers.empty():
        await mailers.get_nowait().quit()
    return began


async def baseline(sinks: Sinks, messages: int, args: argparse.Namespace) -> float:
    """The sinks' own pace: the same mix sent straight to them. Returns messages/s."""
    sinks.arrivals.reset()
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        began = await asyncio.get_running_loop().run_in_executor(
            pool,
            bare_client,
            sinks.smtp_port,
            sinks.http_url,
            messages,
            args.concurrency,
            args.smtp_connections,
        )
    if not await wait_for(sinks.arrivals, messages, 30):
        raise RuntimeError(f"the baseline lost messages: {sinks.arrivals.count} of {messages}")
    return messages / max(sinks.arrivals.last - began, 1e-9)


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return (
        ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")
    )


async def run(stack: BenchStack, args: argparse.Namespace) -> int:
    pseudonyms = Pseudonymizer(stack.secrets["SHOUWANG_PSEUDONYM_KEY"].encode())
    group = f"bench-notify-{uuid.uuid4().hex[:8]}"
    await start_groups_at_end(
        stack.bootstrap, {f"{group}.{ALERTS}": ALERTS, f"{group}.{DIRECTORY}": DIRECTORY}
    )
    database = provision_fresh(
        stack.admin_dsn, "notify", secret=stack.secrets["SHOUWANG_DB_ROLE_SECRET"]
    )
    with Sinks() as sinks:
        notify = stack.service(
            "notify",
            NOTIFY_DATABASE_URL=database,
            NOTIFY_GROUP_PREFIX=group,
            NOTIFY_SMTP_HOST="127.0.0.1",
            NOTIFY_SMTP_PORT=str(sinks.smtp_port),
            NOTIFY_SMTP_SECURITY="insecure",
            NOTIFY_SMS_URL=f"{sinks.http_url}/sms",
            NOTIFY_WECOM_ROBOT_KEY="bench",
            NOTIFY_WECOM_API_BASE=sinks.http_url,
            NOTIFY_RATE_EMAIL="100000",
            NOTIFY_RATE_SMS="100000",
            NOTIFY_RATE_WECOM="100000",
            NOTIFY_DISPATCH_CONCURRENCY=str(args.concurrency),
            NOTIFY_SMTP_CONNECTIONS=str(args.smtp_connections),
            NOTIFY_DISPATCH_POLL_SECONDS="0.05",
            # The fan-out measured is a message per alert and recipient: a person's burst
            # of severe alerts going as one message would hide it (and its baseline).
            NOTIFY_ALERT_BURST_WINDOW_SECONDS="0",
        )
        admin = {
            "Authorization": f"Bearer {stack.token(Role.CAMPUS_ADMIN, sub='A1', campus=CAMPUS)}"
        }
        async with httpx.AsyncClient(base_url=notify.base_url, timeout=60) as client:
            answer = await client.post(
                "/v1/imports/staff-contacts",
                files={"file": ("staff.csv", staff_file(args.students), "text/csv")},
                headers=admin,
            )
            answer.raise_for_status()
        students = [pseudonyms.student_ref(CAMPUS, f"S{s:05d}") for s in range(args.students)]
        directory = [
            (
                DIRECTORY,
                *event(
                    StudentRouting(
                        student_ref=ref,
                        responsible=[
                            ResponsibleStaff(
                                role=OWNER, person_ref=pseudonyms.person_ref(CAMPUS, f"O{s:05d}")
                            ),
                            ResponsibleStaff(
                                role=INFORMED[0],
                                person_ref=pseudonyms.person_ref(CAMPUS, f"C{s:05d}"),
                            ),
                            ResponsibleStaff(
                                role=INFORMED[1],
                                person_ref=pseudonyms.person_ref(CAMPUS, f"T{s:05d}"),
                            ),
                        ],
                        updated_at=datetime.now(UTC),
                    ),
                    ref,
                ),
            )
            for s, ref in enumerate(students)
        ]
        await publish(stack.bootstrap, directory)
        if not await directory_applied(database, args.students, 120):
            print("notify did not take in the directory")
            return 1
        # Warm-up: one alert per student, whose messages prove the directory was taken in.
        # None of them critical, so exactly three messages each; and nothing of the warm-up
        # may still be on its way when the count starts again.
        warm, _ = alerts(students, args.students, critical_every=None)
        await publish(stack.bootstrap, warm)
        arrived = await wait_for(sinks.arrivals, 3 * args.students, 120)
        warm_sent = await settled(database, 60) if arrived else None
        if warm_sent is None or not await wait_for(sinks.arrivals, warm_sent, 30):
            print(f"warm-up incomplete: {sinks.arrivals.count} of {3 * args.students} messages")
            return 1
        sinks.arrivals.reset()

        records, critical = alerts(students, args.alerts, args.critical_every)
        expected = 3 * args.alerts + len(critical)  # critical alerts also reach the on-duty line
        landed: dict[str, float] = {}
        stop_watching = asyncio.Event()
        watching = asyncio.create_task(watch_landings(database, landed, stop_watching))
        began, acked = await publish(stack.bootstrap, records)
        done = await wait_for(sinks.arrivals, expected, args.timeout)
        stop_watching.set()
        await watching
        arrivals = sinks.arrivals
        delivered = arrivals.count
        elapsed = max(arrivals.last - began, 1e-9)
        notify_rate = delivered / elapsed
        latencies = [
            arrivals.by_alert[a] - acked[i] for a, i in critical.items() if a in arrivals.by_alert
        ]
        missing = len(critical) - len(latencies)
        # Notify's own count beside the sinks': a sink receiving more than notify recorded
        # as sent (or more than expected) means a message went out twice. Counted by this
        # run's alert ids, not as the total less the warm-up's: a warm-up message that was
        # still being retried when the warm-up settled would count here otherwise.
        settled_now = await settled(database, 60)
        await asyncio.sleep(1.0)  # a late repeat would arrive now
        recorded = (
            None
            if settled_now is None
            else await sent_for(database, [alert_id(value) for _, _, value in records])
        )
        # Where a critical alert's time goes: taken off Kafka and planned, then sent.
        queued = await queued_at(database, list(critical))
        to_queue = [queued[a] - acked[i] for a, i in critical.items() if a in queued]
        to_inbox = [landed[a] - acked[i] for a, i in critical.items() if a in landed]
        inbox_to_queue = [queued[a] - landed[a] for a in critical if a in queued and a in landed]
        to_sink = [
            arrivals.by_alert[a] - queued[a]
            for a in critical
            if a in queued and a in arrivals.by_alert
        ]
        received = arrivals.count
        base_rate = await baseline(sinks, min(expected, args.baseline_messages), args)

    print(
        f"notify fan-out: {args.alerts} alerts x 3 recipients (+ on-duty for {len(critical)} critical)"
    )
    print(f"{'':2}{'what':<44}{'messages':>10}{'seconds':>10}{'msg/s':>10}")
    print(
        f"{'':2}{'notify (Kafka -> queue -> channels -> sinks)':<44}{delivered:>10}{elapsed:>10.1f}{notify_rate:>10.0f}"
    )
    print(
        f"{'':2}{'baseline (bare client -> same sinks)':<44}{min(expected, args.baseline_messages):>10}{'':>10}{base_rate:>10.0f}"
    )
    print(f"ratio notify/baseline (msg/s): {notify_rate / base_rate:.2f}")
    print(
        f"critical alert.raised -> first message, while the {args.alerts} drain:"
        f" n={len(latencies)} p50={quantile(latencies, 0.5) * 1000:.0f} ms"
        f" p99={quantile(latencies, 0.99) * 1000:.0f} ms"
        f" max={max(latencies, default=float('nan')) * 1000:.0f} ms (aim: p99 < 2000 ms); missing={missing}"
    )
    print(
        f"  of which Kafka -> planned: p50={quantile(to_queue, 0.5) * 1000:.0f} ms"
        f" p99={quantile(to_queue, 0.99) * 1000:.0f} ms;"
        f" planned -> at the sink: p50={quantile(to_sink, 0.5) * 1000:.0f} ms"
        f" p99={quantile(to_sink, 0.99) * 1000:.0f} ms"
    )
    print(
        f"  Kafka -> landed in the inbox (n={len(to_inbox)} seen): p50={quantile(to_inbox, 0.5) * 1000:.0f} ms"
        f" p99={quantile(to_inbox, 0.99) * 1000:.0f} ms;"
        f" landed -> planned: p50={quantile(inbox_to_queue, 0.5) * 1000:.0f} ms"
        f" p99={quantile(inbox_to_queue, 0.99) * 1000:.0f} ms"
    )
    print(
        f"messages: expected {expected}, notify recorded {recorded} sent, sinks received {received}"
    )
    if not done:
        print(f"incomplete: {delivered} of {expected} messages within {args.timeout:.0f} s")
        return 1
    if received != expected or recorded != expected:
        print("a message went out more than once, or was recorded other than as received")
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--critical-every", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--smtp-connections", type=int, default=8)
    parser.add_argument("--baseline-messages", type=int, default=3_000)
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args()
    with bench_stack() as stack:
        return asyncio.run(run(stack, args))


if __name__ == "__main__":
    sys.exit(main())
