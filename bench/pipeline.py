"""The whole pipeline: reports per second end to end, from HTTP in to a case opened and the
first message delivered, at a fixed offered load, with p50/p99 report-to-message latency, beside
raw aiokafka produce and consume rates measured in the same run on the same broker.

Intake, triage, casework and notify run as processes on real Kafka and PostgreSQL (bench/stack.py),
notify's channels on the local sinks. Each report is a critical red flag about a student of its
own (critical: the campus on-duty line is messaged at once, whoever owns the case), sent open
loop at `--rate` per second for `--seconds`. A report is done when its student's `case.opened`
and first `notification.delivered` are on Kafka; latency is from just before its POST to the
moment that delivery is read. Each stage's share is read from the Kafka record timestamps of
the report's first event of each kind (reported, graded, alerted, case opened, messaged).
Whether the loop kept up shows in the latency of the first and the last fifth of the reports
sent: a queue that grows makes the last fifth wait longer. Aims (issue 23): end to end >= 0.2
of raw consume; critical report -> first message p99 < 2 s.

Raw consume only deserialises records, so that ratio cannot approach 0.2 for a loop of four
services and three transactions per report (bench/README.md); it is printed as the issue
asks, beside a comparison that means something: after the end-to-end run, intake's own
ceiling (closed-loop POSTs of the same reports, the rest of the loop running behind it), so
end to end / intake says how far the loop is from what its front door takes.

With `--burst-window S` notify's alert burst window is on (bench/pipeline_bursts.py): the
reports held for a bundle are timed to the bundle's delivery, beside those sent alone.

    uv run python bench/pipeline.py [--rate 40] [--seconds 20] [--warmup 0] [--ceiling-seconds 3]
        [--burst-window 0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from cpu import CLIENT, SINKS, CpuMeter, CpuShare
from loadgen import closed_loop, encode_requests, open_loop
from pipeline_bursts import held_students, notify_env
from raw_kafka import Record, aiokafka_closed_loop, scratch_topic
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_contracts.topics import ALERTS, ASSESSMENTS, CASES, NOTIFICATIONS, TOPICS
from shouwang_contracts.vocabulary import Role
from shouwang_devstack.fresh_groups import start_fresh_groups
from shouwang_devstack.sinks import LocalSinks
from shouwang_devstack.topics import assign_at_end
from shouwang_servicekit.kafka.clients import DURABLE_PRODUCER
from stack import BenchStack, bench_stack
from statements import PRELOAD, Statement
from statements import print_table as print_statements
from statements import read as read_statements
from statements import reset as reset_statements

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


#: The stages a report passes, by the event that marks each (its first record of the type).
STAGES: dict[str, str] = {
    "shouwang.report.submitted": "reported",
    "shouwang.assessment.graded": "graded",
    "shouwang.alert.raised": "alerted",
    "shouwang.case.opened": "opened",
    "shouwang.notification.delivered": "messaged",
}


@dataclass
class Pending:
    sent_at: float
    sent_wall: float = 0.0
    case_at: float | None = None
    message_at: float | None = None
    #: Kafka record timestamps (wall clock, s) of the first record of each stage.
    stages: dict[str, float] = field(default_factory=dict)


@dataclass
class Run:
    """What the end-to-end run saw, by student_ref."""

    reports: dict[str, Pending] = field(default_factory=dict)
    accepted: int = 0
    refused: int = 0
    #: Reports completed in the warm-up before this run (`--warmup`), outside every figure.
    warmed_up: int = 0

    def done(self) -> list[Pending]:
        return [p for p in self.reports.values() if p.case_at and p.message_at]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# --- raw Kafka, same broker, same run -------------------------------------------------------------
async def raw_rates(bootstrap: str, records: int, seconds: float) -> tuple[float, float]:
    """(produce/s with acks=all at 16 in flight, consume/s of `records` report-sized records)."""
    value = json.dumps({"note": "x" * 300, "signals": ["suicide_plan"]}).encode()
    sample = [Record(key=f"bench:stu{i}".encode(), value=value) for i in range(256)]
    async with scratch_topic(bootstrap) as topic:
        produced = await aiokafka_closed_loop(
            bootstrap, topic, sample, seconds=seconds, concurrency=16, linger_ms=2
        )
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, **DURABLE_PRODUCER)
        await producer.start()
        try:
            for i in range(records):
                await producer.send(topic, value, key=sample[i % len(sample)].key)
            await producer.flush()
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            group_id=f"bench-raw-{uuid.uuid4().hex[:8]}",
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            read, started = 0, time.perf_counter()
            deadline = started + 120
            while read < records and time.perf_counter() < deadline:
                batch = await consumer.getmany(timeout_ms=200, max_records=5000)
                read += sum(len(rs) for rs in batch.values())
            consumed = read / (time.perf_counter() - started)
        finally:
            await consumer.stop()
    return produced.rate, consumed


# --- the platform -------------------------------------------------------------------------------
def start_platform(
    stack: BenchStack, sinks: LocalSinks, campus: str, burst_window: float = 0.0
) -> dict[str, str]:
    """The four services with consumer groups of this run's own, placed at the topics' ends
    (casework's file consumers' too: `CASEWORK_FILE_CONSUMER_GROUP`, as the tests place them,
    so a run never works through earlier runs' reports, nor shares their offsets); the
    directory's at its end as well, since the run imports the roster it reads after this.
    Notify's alert burst window `burst_window` s (0: each report's message alone)."""
    groups = asyncio.run(
        start_fresh_groups(
            stack.bootstrap, ("intake", "triage", "casework", "notify"), own_directory=True
        )
    )
    started = {}
    for name, env in (
        ("intake", groups["intake"]),
        ("triage", groups["triage"]),
        ("casework", groups["casework"]),
        (
            "notify",
            {
                **groups["notify"],
                **sinks.notify_env(),
                "NOTIFY_RATE_SMS": "1000",
                "NOTIFY_RATE_EMAIL": "1000",
                "NOTIFY_RATE_WEBHOOK": "1000",
                # Every report's student is on no roster: the on-duty line is its only
                # recipient, so a burst would hold all but the first report's message for a
                # window (one message, not one per report). By default this measures each
                # report's path; `--burst-window` measures what the window costs.
                **notify_env(burst_window),
            },
        ),
    ):
        started[name] = stack.service(name, **env)
    urls = {name: process.base_url for name, process in started.items()}
    with httpx.Client(timeout=60) as http:
        admin = {"Authorization": f"Bearer {stack.token(Role.CAMPUS_ADMIN, 'A0001', campus)}"}
        for service, path, file in (
            ("casework", "/v1/roster/students", "roster_students.csv"),
            ("casework", "/v1/roster/staff", "roster_staff.csv"),
            ("notify", "/v1/imports/staff-contacts", "contacts_staff.csv"),
        ):
            answer = http.post(
                urls[service] + path,
                files={"file": (file, (SAMPLES / file).read_bytes(), "text/csv")},
                headers=admin,
            )
            answer.raise_for_status()
    return urls


async def end_to_end(
    stack: BenchStack,
    intake: str,
    campus: str,
    rate: float,
    seconds: float,
    settle: float,
    warmup: float = 0.0,
    statements: bool = False,
) -> tuple[Run, float, CpuShare, list[Statement]]:
    """Offer `rate` reports/s for `seconds`; returns the run, the seconds from the first send
    to the last completion, and the CPU each process spent from the first send until every
    report was done. With `warmup`, the same load is offered that many seconds first (other
    students, left out of every figure) and waited out: the broker's JIT compiler and the
    services' first fetches and statements then fall before the measured run. With
    `statements`, the SQL statements the services ran over the same window (pg_stat_statements)."""
    cpu = CpuMeter()
    pseudonyms = Pseudonymizer(stack.secrets["SHOUWANG_PSEUDONYM_KEY"].encode())
    run, warm = Run(), Run()
    watcher = AIOKafkaConsumer(bootstrap_servers=stack.bootstrap, enable_auto_commit=False)
    await watcher.start()
    await assign_at_end(watcher, TOPICS["reports"].name, ASSESSMENTS, ALERTS, CASES, NOTIFICATIONS)
    token = stack.token(Role.FLOOR_LEADER, "2024030002", campus)
    stop = asyncio.Event()

    async def watch() -> None:
        while not stop.is_set():
            batches = await watcher.getmany(timeout_ms=100, max_records=5000)
            now = time.perf_counter()
            for records in batches.values():
                for record in records:
                    event: dict[str, Any] = json.loads(record.value)
                    subject = event.get("subject") or ""
                    pending = run.reports.get(subject) or warm.reports.get(subject)
                    if pending is None or event.get("campus_id") != campus:
                        continue
                    stage = STAGES.get(event["type"])
                    if stage is not None:
                        pending.stages.setdefault(stage, record.timestamp / 1000)
                    if event["type"] == "shouwang.case.opened" and pending.case_at is None:
                        pending.case_at = now
                    elif (
                        event["type"] == "shouwang.notification.delivered"
                        and pending.message_at is None
                    ):
                        pending.message_at = now

    # Every request encoded before the clock starts and written raw (loadgen.open_loop): the
    # platform sees the same POSTs httpx made (a fresh Idempotency-Key each), without httpx's
    # few milliseconds of CPU per request on the cores the platform runs on.
    address = urlsplit(intake)
    host, port = address.hostname or "127.0.0.1", address.port or 80
    observed = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()

    async def offer(into: Run, prefix: str, total: int) -> None:
        """`total` reports at `rate`, each about a student of its own; then wait (at most
        `settle` s) until every accepted one is done."""
        students = [f"{prefix}{n:09d}" for n in range(total)]
        refs = [pseudonyms.student_ref(campus, student) for student in students]
        requests = [
            encode_requests(
                host,
                port,
                "/v1/reports",
                {
                    "Authorization": f"Bearer {token}",
                    "Content-Type": "application/json",
                    "Idempotency-Key": str(uuid.uuid4()),
                },
                [
                    json.dumps(
                        {
                            "campus_id": campus,
                            "student_no": student,
                            "signals": ["suicide_plan", "giving_away_possessions"],
                            "observed_at": observed,
                        }
                    ).encode()
                ],
            )[0]
            for student in students
        ]

        def sending(n: int) -> None:
            into.reports[refs[n]] = Pending(time.perf_counter(), time.time())

        accepted, refused = await open_loop(
            host, port, requests, seconds=total / rate, rate=rate, ok=202, on_send=sending
        )
        into.accepted, into.refused = len(accepted), refused
        for _ in range(int(settle / 0.2)):
            if len(into.done()) >= into.accepted:
                break
            await asyncio.sleep(0.2)

    watching = asyncio.create_task(watch())
    if warmup > 0:
        await offer(warm, "W", int(rate * warmup))
        run.warmed_up = len(warm.done())
    if statements:
        reset_statements(stack.admin_dsn)
    cpu.start()
    started = time.perf_counter()
    await offer(run, "B", int(rate * seconds))
    stop.set()
    await watching
    share = cpu.stop()
    ran = read_statements(stack.admin_dsn) if statements else []
    await watcher.stop()
    # Done is the later of the two: the case opened and the first message delivered.
    finished = max(
        (max(p.case_at or 0.0, p.message_at or 0.0) for p in run.done()),
        default=time.perf_counter(),
    )
    return run, finished - started, share, ran


async def intake_ceiling(
    stack: BenchStack, intake: str, campus: str, seconds: float, concurrency: int = 32
) -> float:
    """Reports intake accepts per second in a closed loop (the same critical reports, each
    about a student of its own), with the rest of the loop running behind it."""
    address = urlsplit(intake)
    host, port = address.hostname or "127.0.0.1", address.port or 80
    observed = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
    bodies = [
        json.dumps(
            {
                "campus_id": campus,
                "student_no": f"C{n:09d}",
                "signals": ["suicide_plan", "giving_away_possessions"],
                "observed_at": observed,
            }
        ).encode()
        for n in range(20_000)
    ]
    headers = {
        "Authorization": f"Bearer {stack.token(Role.FLOOR_LEADER, '2024030002', campus)}",
        "Content-Type": "application/json",
    }
    requests = encode_requests(host, port, "/v1/reports", headers, bodies)
    rate, _ = await closed_loop(host, port, requests, seconds, concurrency, 202)
    return rate


def report_cpu(share: CpuShare, completed: int) -> None:
    """Each process's CPU over the run, as a share of one core and per completed report."""
    print(f"CPU from the first send to the last report done ({share.wall:.1f} s), by process:")
    print(f"{'process':<44}{'% of a core':>12}{'ms/report':>12}")
    known = ("intake", "triage", "casework", "notify", "kafka", "postgres", CLIENT, SINKS)
    rest = sorted(set(share.seconds) - set(known))
    for what in (*known, *rest):
        if what in share.seconds:
            per = 1000 * share.seconds[what] / completed if completed else 0.0
            print(f"{what:<44}{share.percent(what):>12.0f}{per:>12.2f}")
    for what, seconds in (
        ("all of the bench's", share.ours),
        ("elsewhere on the machine", share.elsewhere),
    ):
        per = 1000 * seconds / completed if completed else 0.0
        print(f"{what:<44}{100 * seconds / share.wall if share.wall else 0:>12.0f}{per:>12.2f}")


def report(
    run: Run,
    elapsed: float,
    produce: float,
    consume: float,
    rate: float,
    ceiling: float,
    share: CpuShare,
) -> None:
    done = run.done()
    latencies = [(p.message_at or 0) - p.sent_at for p in done]
    to_case = [(p.case_at or 0) - p.sent_at for p in done]
    e2e = len(done) / elapsed if elapsed > 0 else 0.0
    print(f"offered load: {rate:.1f} critical reports/s, {len(run.reports)} sent")
    print(f"accepted {run.accepted}, refused {run.refused}, completed {len(done)}")
    print(f"after a warm-up at the same load: {run.warmed_up} reports completed, not counted")
    print(f"{'measure':<44}{'value':>12}")
    print(f"{'raw aiokafka produce (acks=all), records/s':<44}{produce:>12.0f}")
    print(f"{'raw aiokafka consume, records/s':<44}{consume:>12.0f}")
    print(f"{'end to end (case + first message), reports/s':<44}{e2e:>12.1f}")
    print(f"{'ratio end to end / raw consume':<44}{e2e / consume if consume else 0:>12.6f}")
    print(f"{'ratio end to end / offered':<44}{e2e / rate if rate else 0:>12.3f}")
    print(f"{'intake alone (closed loop), reports/s':<44}{ceiling:>12.0f}")
    print(f"{'ratio end to end / intake alone':<44}{e2e / ceiling if ceiling else 0:>12.3f}")
    print(f"{'report -> case opened p50, s':<44}{percentile(to_case, 0.5):>12.3f}")
    if done:
        # What a burst's last student waits: from the first report sent to the last case.
        last_case = max(p.case_at or 0 for p in done) - min(p.sent_at for p in done)
        print(f"{'first report sent -> last case opened, s':<44}{last_case:>12.3f}")
    print(f"{'report -> first message p50, s':<44}{percentile(latencies, 0.5):>12.3f}")
    print(f"{'report -> first message p99, s':<44}{percentile(latencies, 0.99):>12.3f}")
    if latencies:
        print(f"{'report -> first message mean, s':<44}{statistics.fmean(latencies):>12.3f}")
    by_send = sorted(done, key=lambda p: p.sent_at)
    fifth = max(len(by_send) // 5, 1)
    whole = [max(p.case_at or 0, p.message_at or 0) - p.sent_at for p in by_send]
    label = "case + message p50, first / last fifth, s"
    print(
        f"{label:<44}{percentile(whole[:fifth], 0.5):>6.3f} / {percentile(whole[-fifth:], 0.5):.3f}"
    )
    previous = "sent"
    for stage in ("reported", "graded", "alerted", "opened", "messaged"):
        steps = [
            p.stages[stage] - (p.sent_wall if previous == "sent" else p.stages[previous])
            for p in done
            if stage in p.stages and (previous == "sent" or previous in p.stages)
        ]
        label = f"stage {previous} -> {stage} p50 / p99, s"
        print(f"{label:<44}{percentile(steps, 0.5):>6.3f} / {percentile(steps, 0.99):.3f}")
        previous = stage if stage != "opened" else "alerted"
    ratio = e2e / consume if consume else 0.0
    p99 = percentile(latencies, 0.99)
    report_cpu(share, len(done))
    print(f"aim end to end >= 0.2 x raw consume: {'met' if ratio >= 0.2 else 'not met'}")
    print(f"aim first message p99 < 2 s: {'met' if p99 < 2.0 else 'not met'}")


def report_held(run: Run, held: set[str], window: float) -> None:
    """Report -> first message of the reports sent alone, beside report -> bundle delivered
    of those held for a bundle, and the difference of the medians: what the window cost."""
    latencies = {ref: (p.message_at or 0) - p.sent_at for ref, p in run.reports.items()}
    done = {ref for ref, p in run.reports.items() if p.case_at and p.message_at}
    alone = [s for ref, s in latencies.items() if ref in done and ref not in held]
    bundled = [s for ref, s in latencies.items() if ref in done and ref in held]
    print(f"alert burst window {window:g} s (the on-duty line on SMS, not the webhook):")
    for label, values in (
        (f"sent alone (n={len(alone)}): report -> first message", alone),
        (f"held (n={len(bundled)}): report -> bundle delivered", bundled),
    ):
        figures = f"{percentile(values, 0.5):.3f} / {percentile(values, 0.99):.3f}"
        print(f"{label + ' p50 / p99, s':<64}{figures:>16}")
    cost = percentile(bundled, 0.5) - percentile(alone, 0.5)
    print(f"{'held p50 - alone p50, s':<64}{cost:>16.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=40.0, help="critical reports per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--raw-records", type=int, default=50_000)
    parser.add_argument("--raw-seconds", type=float, default=5.0)
    parser.add_argument("--settle", type=float, default=60.0, help="wait for the last ones")
    parser.add_argument(
        "--warmup",
        type=float,
        default=0.0,
        help="seconds of the same load first, left out of the figures (0: none)",
    )
    parser.add_argument(
        "--statements",
        action="store_true",
        help="load pg_stat_statements and print the SQL statements per report, by service",
    )
    parser.add_argument(
        "--ceiling-seconds", type=float, default=3.0, help="intake's closed loop, after the run"
    )
    parser.add_argument(
        "--burst-window",
        type=float,
        default=0.0,
        help="notify's alert burst window, s (0: each report's message alone; at most 30)",
    )
    args = parser.parse_args()
    campus = f"bench{uuid.uuid4().hex[:6]}"
    with bench_stack(PRELOAD if args.statements else None) as stack:
        sinks = LocalSinks(stack.workdir / "sinks").start()
        try:
            produce, consume = asyncio.run(
                raw_rates(stack.bootstrap, args.raw_records, args.raw_seconds)
            )
            urls = start_platform(stack, sinks, campus, args.burst_window)
            run, elapsed, share, ran = asyncio.run(
                end_to_end(
                    stack,
                    urls["intake"],
                    campus,
                    args.rate,
                    args.seconds,
                    args.settle,
                    args.warmup,
                    args.statements,
                )
            )
            ceiling = asyncio.run(
                intake_ceiling(stack, urls["intake"], campus, args.ceiling_seconds)
            )
            held: set[str] = set()
            if args.burst_window > 0:
                (notify,) = (p for p in stack.started if p.name == "notify")
                held = asyncio.run(held_students(notify.env["NOTIFY_DATABASE_URL"]))
        finally:
            sinks.stop()
    report(run, elapsed, produce, consume, args.rate, ceiling, share)
    if args.burst_window > 0:
        report_held(run, held, args.burst_window)
    if args.statements:
        print_statements(ran, len(run.done()))
    return 0 if run.accepted and len(run.done()) == run.accepted else 1


if __name__ == "__main__":
    sys.exit(main())
