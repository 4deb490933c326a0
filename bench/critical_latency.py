"""Critical report -> first staff alert, idle and while a 20,000-row census flows through.

    uv run python bench/critical_latency.py [--census-rows 20000] [--rate 4] [--idle-reports 200]

Starts real Kafka and PostgreSQL (or uses KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL), then intake
and triage as real processes. Posts critical reports (`suicide_attempt`) to intake's
POST /v1/reports at a fixed offered rate and measures, per report, the time from intake's HTTP
202 to the `alert.raised` record for that student arriving on the alerts topic. First with no
other load (idle), then while a census file is uploaded to POST /v1/screenings/bulk and graded
by triage (loaded), until triage has graded every census row. Prints p50/p99 of both and the
loaded/idle ratio. Aim: p99 < 1 s, loaded within 2x idle. Stops everything it started.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_contracts.topics import ALERTS, TOPICS
from shouwang_contracts.vocabulary import Role
from shouwang_devstack.topics import assign_at_end, start_groups_at_end
from shouwang_triage.config import TriageSettings
from stack import BenchStack, bench_stack  # bench/ is on sys.path when run as a script

CAMPUS = "bench"
PHQ9_HEADER = "学号,姓名,测评时间,量表,第1题,第2题,第3题,第4题,第5题,第6题,第7题,第8题,第9题"


def census_csv(rows: int, seed: int = 11) -> bytes:
    """PHQ-9 rows shaped like a start-of-term export: mostly healthy, a tail of positives."""
    rng = random.Random(seed)
    lines = [PHQ9_HEADER]
    for row in range(rows):
        items = rng.choices([0, 1, 2, 3], weights=[55, 30, 10, 5], k=8)
        item9 = rng.choices([0, 1, 2, 3], weights=[93, 5, 1.5, 0.5])[0]
        lines.append(
            ",".join(
                [
                    f"C{row:07d}",
                    f"学生{row}",
                    "2026-09-10 09:30",
                    "PHQ-9",
                    *map(str, items),
                    str(item9),
                ]
            )
        )
    return ("\n".join(lines) + "\n").encode("utf-8")


# Run by a child process: upload the census file, print intake's answer.
UPLOAD = """
import os, sys, httpx
with open(sys.argv[2], "rb") as file:
    answer = httpx.post(
        sys.argv[1],
        files={"file": ("census.csv", file, "text/csv")},
        headers={"Authorization": os.environ["BENCH_AUTHORIZATION"]},
        timeout=600,
    )
answer.raise_for_status()
print(answer.text)
"""


@dataclass
class AlertClock:
    """Notes when each student's first `alert.raised` arrives on the alerts topic."""

    bootstrap: str
    arrived: dict[str, float] = field(default_factory=dict)
    # Per student: (grading began: the envelope's time, relay sent: the record's timestamp).
    stamps: dict[str, tuple[float, float]] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, enable_auto_commit=False, fetch_max_wait_ms=20
        )
        await consumer.start()
        await assign_at_end(consumer, ALERTS)
        self._task = asyncio.create_task(self._run(consumer))

    async def _run(self, consumer: AIOKafkaConsumer) -> None:
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=50)
                now = time.time()
                for records in batches.values():
                    for record in records:
                        headers = dict(record.headers or [])
                        if headers.get("ce_type") != b"shouwang.alert.raised":
                            continue
                        subject = (record.key or b"").decode().split(":", 1)[-1]
                        if subject in self.arrived:
                            continue
                        self.arrived[subject] = now
                        graded = datetime.fromisoformat(json.loads(record.value)["time"])
                        self.stamps[subject] = (graded.timestamp(), record.timestamp / 1000)
        finally:
            await consumer.stop()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def wait(self, student_ref: str, within: float = 30.0) -> float | None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if student_ref in self.arrived:
                return self.arrived[student_ref]
            await asyncio.sleep(0.005)
        return None


HOPS = ("202->graded", "graded->sent", "sent->seen")


def _quantile(values: list[float], q: float) -> float:
    """Nearest-rank quantile (NaN when there are no values)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _ms(values: list[float], q: float) -> str:
    return f"{_quantile(values, q) * 1000:.1f}" if values else "-"


@dataclass
class Phase:
    name: str
    latencies: list[float] = field(default_factory=list)
    # Per sample, the hops: 202 -> grading began, -> relay sent, -> arrived at the bench.
    hops: list[tuple[float, float, float]] = field(default_factory=list)
    # Per report, intake's answer time: the POST to its 202.
    answers: list[float] = field(default_factory=list)
    lost: int = 0

    def hop_line(self) -> str:
        if not self.hops:
            return ""
        columns = [(name, [h[index] for h in self.hops]) for index, name in enumerate(HOPS)]
        parts = [
            f"{name} p50 {_ms(values, 0.5)} / p99 {_ms(values, 0.99)} ms"
            for name, values in columns
        ]
        answer = (
            f"(intake's own POST->202: p50 {_ms(self.answers, 0.5)}"
            f" / p99 {_ms(self.answers, 0.99)} ms)"
        )
        return f"{'':>9}" + "; ".join(parts) + f"\n{'':>9}{answer}"

    def line(self) -> str:
        if not self.latencies:
            return f"{self.name:>7}: no alerts (lost {self.lost})"
        return (
            f"{self.name:>7}: n={len(self.latencies):4d}  p50={self.p(0.5) * 1000:7.1f} ms"
            f"  p99={self.p(0.99) * 1000:7.1f} ms  max={max(self.latencies) * 1000:7.1f} ms"
            f"  lost={self.lost}"
        )

    def p(self, q: float) -> float:
        return _quantile(self.latencies, q)


class Bench:
    def __init__(
        self, stack: BenchStack, intake_url: str, triage_url: str, census_url: str
    ) -> None:
        self.stack = stack
        self.intake_url = intake_url
        self.triage_url = triage_url
        self.census_url = census_url
        self.pseudonyms = Pseudonymizer(stack.secrets["SHOUWANG_PSEUDONYM_KEY"].encode())
        self.clock = AlertClock(stack.bootstrap)
        self.reporter = {
            "Authorization": f"Bearer {stack.token(Role.DORM_LEADER, sub='R1', campus=CAMPUS)}"
        }
        self.screener = {
            "Authorization": f"Bearer {stack.token(Role.COUNSELING_CENTER, sub='T1', campus=CAMPUS)}"
        }
        self.sequence = 0

    async def one_report(self, client: httpx.AsyncClient, phase: Phase) -> None:
        self.sequence += 1
        student_no = f"K{self.sequence:07d}"
        body = {
            "campus_id": CAMPUS,
            "student_no": student_no,
            "signals": ["suicide_attempt"],
            "observed_at": datetime.now(UTC).isoformat(),
        }
        posted = time.time()
        answer = await client.post(
            f"{self.intake_url}/v1/reports", json=body, headers=self.reporter
        )
        accepted = time.time()
        phase.answers.append(accepted - posted)
        if answer.status_code != 202:
            print(f"report refused: {answer.status_code} {answer.text[:200]}", file=sys.stderr)
            phase.lost += 1
            return
        student_ref = self.pseudonyms.student_ref(CAMPUS, student_no)
        arrived = await self.clock.wait(student_ref)
        if arrived is None:
            phase.lost += 1
        else:
            phase.latencies.append(max(arrived - accepted, 0.0))
            graded, sent = self.clock.stamps[student_ref]
            phase.hops.append((graded - accepted, sent - graded, arrived - sent))

    async def offer(
        self,
        client: httpx.AsyncClient,
        phase: Phase,
        rate: float,
        until: asyncio.Future[Any] | int,
    ) -> None:
        """Post reports at `rate` per second (open loop) until `until` is done or that many sent."""
        tasks: list[asyncio.Task[None]] = []
        started = time.monotonic()
        while True:
            if isinstance(until, int) and len(tasks) >= until:
                break
            if not isinstance(until, int) and until.done():
                break
            tasks.append(asyncio.create_task(self.one_report(client, phase)))
            await asyncio.sleep(max(started + len(tasks) / rate - time.monotonic(), 0))
        await asyncio.gather(*tasks)

    async def census_graded(self, client: httpx.AsyncClient) -> float:
        text = (await client.get(f"{self.census_url}/metrics")).text
        total = 0.0
        for line in text.splitlines():
            if (
                line.startswith("triage_assessments_graded_total{")
                and 'trigger="screening"' in line
            ):
                total += float(line.rsplit(" ", 1)[1])
        return total

    async def report_commit_age(self, client: httpx.AsyncClient) -> tuple[float, float, float]:
        """Triage's own view of reports: count, seconds from intake's acceptance to commit,
        and seconds spent grading and committing (sums)."""
        text = (await client.get(f"{self.triage_url}/metrics")).text
        values = {}
        for line in text.splitlines():
            for name in (
                'triage_input_age_at_commit_seconds_count{trigger="report"}',
                'triage_input_age_at_commit_seconds_sum{trigger="report"}',
                'triage_grading_seconds_sum{trigger="report"}',
            ):
                if line.startswith(name + " "):
                    values[name] = float(line.rsplit(" ", 1)[1])
        return tuple(
            values.get(n, 0.0)
            for n in (  # type: ignore[return-value]
                'triage_input_age_at_commit_seconds_count{trigger="report"}',
                'triage_input_age_at_commit_seconds_sum{trigger="report"}',
                'triage_grading_seconds_sum{trigger="report"}',
            )
        )

    async def census(self, client: httpx.AsyncClient, census_file: Path) -> None:
        """Upload the census to intake, then wait until triage graded every accepted row.

        The upload runs in a child process: streaming a megabyte through httpx here would hold
        up this event loop, and with it the moment each report's 202 is noted, which would
        make the loaded latencies look shorter than they are.
        """
        started = time.monotonic()
        upload = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            UPLOAD,
            f"{self.intake_url}/v1/screenings/bulk",
            str(census_file),
            env={**os.environ, "BENCH_AUTHORIZATION": self.screener["Authorization"]},
            stdout=asyncio.subprocess.PIPE,
        )
        output, _ = await upload.communicate()
        if upload.returncode != 0:
            raise RuntimeError(f"census upload failed: {output.decode()[:500]}")
        accepted = json.loads(output)["rows_accepted"]
        uploaded = time.monotonic() - started
        # Triage reports progress over HTTP metrics only: poll it.
        graded = await self.census_graded(client)
        while graded < accepted:
            await asyncio.sleep(0.5)
            graded = await self.census_graded(client)
        print(
            f"census: {accepted} rows accepted by intake in {uploaded:.1f} s, "
            f"graded by triage in {time.monotonic() - started:.1f} s"
        )

    async def run(self, rows: int, rate: float, idle_reports: int) -> tuple[Phase, Phase]:
        census_file = self.stack.workdir / "census.csv"
        census_file.write_bytes(census_csv(rows))
        await self.clock.start()
        try:
            async with httpx.AsyncClient(timeout=30) as client:
                await self.offer(client, Phase("warm-up"), rate, 5)
                before = await self.report_commit_age(client)
                idle = Phase("idle")
                await self.offer(client, idle, rate, idle_reports)
                middle = await self.report_commit_age(client)
                loaded = Phase("loaded")
                census = asyncio.ensure_future(self.census(client, census_file))
                await self.offer(client, loaded, rate, census)
                await census
                after = await self.report_commit_age(client)
                for name, (c0, s0, g0), (c1, s1, g1) in (
                    ("idle", before, middle),
                    ("loaded", middle, after),
                ):
                    if c1 > c0:
                        print(
                            f"  triage's part ({name}): intake acceptance -> graded and committed, "
                            f"mean {(s1 - s0) / (c1 - c0) * 1000:.1f} ms, of which grading and "
                            f"commit {(g1 - g0) / (c1 - c0) * 1000:.1f} ms"
                        )
                return idle, loaded
        finally:
            await self.clock.stop()


def fresh_triage_groups(bootstrap: str) -> str:
    """A consumer-group prefix of this run's own, its groups placed at the end of triage's input
    topics. On a broker with history (KAFKA_BOOTSTRAP_SERVERS naming `make up`'s), triage's
    default groups would first grade everything published before, and the reports this bench
    times would wait behind that backlog, or count as lost."""
    prefix = f"bench-triage-{uuid.uuid4().hex[:8]}"
    inputs = [TOPICS[name].name for name in TriageSettings(consumers="all").consumer_set]
    asyncio.run(start_groups_at_end(bootstrap, {f"{prefix}.{topic}": topic for topic in inputs}))
    return prefix


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--census-rows", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=4.0, help="critical reports per second")
    parser.add_argument("--idle-reports", type=int, default=200)
    parser.add_argument(
        "--topology",
        choices=["split", "single"],
        default="split",
        help="split: the census graded by its own triage process (TRIAGE_CONSUMERS=census) beside "
        "one for reports, sharing the database; single: one triage process for everything",
    )
    args = parser.parse_args()
    with bench_stack() as stack:
        groups = fresh_triage_groups(stack.bootstrap)
        if args.topology == "split":
            triage = stack.launch(
                "triage",
                TRIAGE_CONSUMERS="reports,screenings,cases,directory",
                TRIAGE_GROUP_PREFIX=groups,
            )
            census = stack.launch(
                "triage",
                TRIAGE_CONSUMERS="census",
                TRIAGE_DATABASE_URL=triage.env["TRIAGE_DATABASE_URL"],
                TRIAGE_GROUP_PREFIX=groups,
            )
        else:
            triage = census = stack.launch("triage", TRIAGE_GROUP_PREFIX=groups)
        intake = stack.launch("intake")
        stack.ready(triage, census, intake)
        bench = Bench(stack, intake.base_url, triage.base_url, census.base_url)
        idle, loaded = asyncio.run(bench.run(args.census_rows, args.rate, args.idle_reports))
    print(f"topology: {args.topology}")
    print(f"critical report (intake 202) -> alert.raised on Kafka, offered {args.rate:g}/s:")
    for phase in (idle, loaded):
        print(phase.line())
        print(phase.hop_line())
    ratio50 = loaded.p(0.5) / idle.p(0.5)
    ratio99 = loaded.p(0.99) / idle.p(0.99)
    print(
        f"  ratio loaded/idle: p50 {ratio50:.2f}x  p99 {ratio99:.2f}x  (aim: p99 < 1 s, within 2x)"
    )
    return 0 if idle.lost == 0 and loaded.lost == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
