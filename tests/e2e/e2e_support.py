"""What the fault tests share: the platform as processes, a stream of reports, and a ledger of
what came out of it, read straight from Kafka and checked for loss and doubles."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer
from shouwang_contracts.auth import mint_token
from shouwang_contracts.topics import ALERTS, ASSESSMENTS, CASES, NOTIFICATIONS
from shouwang_contracts.vocabulary import Role
from shouwang_devstack.topics import assign_at_end

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
STUDENTS = [
    row["学号"]
    for row in csv.DictReader(io.StringIO((SAMPLES / "roster_students.csv").read_text("utf-8")))
]
# Mostly everyday worries; now and then a red flag, so alerts and messages flow too.
SIGNAL_MIX = (
    (["persistent_low_mood"], 40),
    (["sleep_disturbance", "social_withdrawal"], 30),
    (["hopelessness", "persistent_low_mood"], 20),
    (["self_harm_talk"], 7),
    (["suicide_plan", "giving_away_possessions"], 3),
)


def headers(secret: str, campus: str, role: Role, sub: str) -> dict[str, str]:
    token = mint_token(secret, sub=sub, role=role, campus_id=campus)
    return {"Authorization": f"Bearer {token}"}


async def load_campus(
    http: httpx.AsyncClient, casework: str, notify: str, admin: dict[str, str]
) -> None:
    """The sample roster and contacts, through casework's and notify's import APIs."""
    for base, path, name in (
        (casework, "/v1/roster/students", "roster_students.csv"),
        (casework, "/v1/roster/staff", "roster_staff.csv"),
        (notify, "/v1/imports/staff-contacts", "contacts_staff.csv"),
        (notify, "/v1/imports/family-contacts", "contacts_family.csv"),
    ):
        answer = await http.post(
            f"{base}{path}",
            files={"file": (name, (SAMPLES / name).read_bytes(), "text/csv")},
            headers=admin,
        )
        assert answer.status_code in (200, 201), answer.text


def census_today() -> bytes:
    """The sample census dated now (its four bad rows stay bad)."""
    text = (SAMPLES / "census_phq9.csv").read_text("utf-8-sig")
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    rows = list(csv.reader(io.StringIO(text)))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(rows[0])
    for row in rows[1:]:
        if len(row) > 2 and len(row[2]) == 16 and row[2][:4].isdigit():
            row[2] = stamp
        writer.writerow(row)
    return out.getvalue().encode()


@dataclass
class Stream:
    """`total` reports posted to intake by `workers` clients, each retried with its own
    Idempotency-Key until accepted (a 503, a refused connection, a cut-off answer: a client
    sends the same report again). `accepted` maps report id -> student number."""

    intake: Callable[[], str]
    secret: str
    campus: str
    total: int = 2000
    workers: int = 6
    accepted: dict[str, str] = field(default_factory=dict)
    answers: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    sent: int = 0

    async def run(self, within: float = 600.0) -> None:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for n in range(self.total):
            queue.put_nowait(n)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        reporter = headers(self.secret, self.campus, Role.DORM_LEADER, "2024020001")
        weights = [w for _, w in SIGNAL_MIX]
        rng = random.Random(23)
        plan = [
            (STUDENTS[n % len(STUDENTS)], rng.choices([s for s, _ in SIGNAL_MIX], weights)[0])
            for n in range(self.total)
        ]

        async def worker(http: httpx.AsyncClient) -> None:
            while not queue.empty():
                n = queue.get_nowait()
                student, signals = plan[n]
                key = f"{self.campus}-{n}"
                body = {
                    "campus_id": self.campus,
                    "student_no": student,
                    "signals": signals,
                    "observed_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
                }
                while True:
                    assert loop.time() < deadline, f"report {n} never accepted: {self.answers}"
                    try:
                        answer = await http.post(
                            f"{self.intake()}/v1/reports",
                            json=body,
                            headers={**reporter, "Idempotency-Key": key},
                        )
                    except httpx.TransportError:
                        self.answers[0] += 1
                        await asyncio.sleep(0.3)
                        continue
                    self.answers[answer.status_code] += 1
                    if answer.status_code in (200, 202):
                        self.accepted[answer.json()["id"]] = student
                        self.sent += 1
                        break
                    assert answer.status_code == 503, answer.text
                    await asyncio.sleep(float(answer.headers.get("Retry-After", "1")) / 4)

        async with httpx.AsyncClient(timeout=20) as http:
            await asyncio.gather(*(worker(http) for _ in range(self.workers)))


class Ledger:
    """Every event of one campus on the assessments, alerts, cases and notifications topics,
    from where they ended when the ledger opened."""

    TOPICS = (ASSESSMENTS, ALERTS, CASES, NOTIFICATIONS)

    def __init__(self, bootstrap: str, campus: str) -> None:
        self.campus = campus
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self.events: dict[str, dict[str, Any]] = {}  # by event id: a redelivery is one event

    async def __aenter__(self) -> Ledger:
        await self.consumer.start()
        await assign_at_end(self.consumer, *self.TOPICS)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()

    async def read(self, seconds: float) -> int:
        """Read for `seconds`; the number of new events."""
        loop = asyncio.get_running_loop()
        until = loop.time() + seconds
        new = 0
        while loop.time() < until:
            batches = await self.consumer.getmany(timeout_ms=300, max_records=5000)
            for records in batches.values():
                for record in records:
                    event = json.loads(record.value)
                    if event.get("campus_id") == self.campus and event["id"] not in self.events:
                        self.events[event["id"]] = event
                        new += 1
        return new

    def of(self, *types: str) -> list[dict[str, Any]]:
        wanted = {f"shouwang.{t}" for t in types}
        return [e for e in self.events.values() if e["type"] in wanted]

    async def settle(
        self,
        done: Callable[[], bool],
        within: float,
        quiet: float = 12.0,
        why: Callable[[str], str] | None = None,
    ) -> None:
        """Read until `done()` holds and nothing new came for `quiet` seconds. On a timeout
        the message is passed through `why` (a test's diagnosis) when given.

        The quiet is counted from the last new event, in short reads: fixed windows of
        `quiet` seconds waited out a whole second window whenever the first ended with the
        last events of a catch-up."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        last_new = loop.time()
        while True:
            if await self.read(0.5):
                last_new = loop.time()
            if done() and loop.time() - last_new >= quiet:
                return
            if loop.time() >= deadline:
                said = f"not settled within {within:.0f}s: {self.summary()}"
                raise AssertionError(why(said) if why is not None else said)

    def summary(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for event in self.events.values():
            counts[event["type"].removeprefix("shouwang.")] += 1
        return dict(counts)

    # the end-to-end invariants --------------------------------------------------------------
    def graded_reports(self) -> set[str]:
        """Every report some assessment rests on."""
        return {
            report_id
            for event in self.of("assessment.graded")
            for report_id in event["data"]["report_ids"]
        }

    def assessments_per_student(self, trigger: str) -> dict[str, set[str]]:
        out: dict[str, set[str]] = defaultdict(set)
        for event in self.of("assessment.graded"):
            if event["data"]["trigger"] == trigger:
                out[event["data"]["student_ref"]].add(event["data"]["assessment_id"])
        return out

    def doubled_cases(self) -> dict[str, set[str]]:
        """Alerts (and students) that opened more than one case."""
        by_alert: dict[str, set[str]] = defaultdict(set)
        by_student: dict[str, set[str]] = defaultdict(set)
        for event in self.of("case.opened"):
            data = event["data"]
            by_student[data["student_ref"]].add(data["case_id"])
            if data.get("alert_id"):
                by_alert[data["alert_id"]].add(data["case_id"])
        doubled = {k: v for k, v in by_alert.items() if len(v) > 1}
        doubled.update({k: v for k, v in by_student.items() if len(v) > 1})
        return doubled

    def doubled_messages(self) -> dict[tuple[str, ...], set[str]]:
        """Messages (event, recipient, channel) delivered under more than one notification."""
        seen: dict[tuple[str, ...], set[str]] = defaultdict(set)
        for event in self.of("notification.delivered"):
            data = event["data"]
            key = (
                data["source_event_id"],
                data["recipient_kind"],
                str(data.get("recipient_role")),
                data["channel"],
            )
            seen[key].add(data["notification_id"])
        return {k: v for k, v in seen.items() if len(v) > 1}

    def delivered(self) -> set[str]:
        return {e["data"]["notification_id"] for e in self.of("notification.delivered")}


async def eventually(check: Callable[[], Awaitable[Any]], within: float) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        value = await check()
        if value or loop.time() > deadline:
            return value
        await asyncio.sleep(0.5)


def new_campus(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:6]}"


@dataclass
class Phases:
    """Where a long test's time goes: `done(name)` prints the seconds since the last phase
    ended (shown under `pytest -s`, and with a failure's captured output)."""

    started: float = field(default_factory=time.monotonic)
    took: dict[str, float] = field(default_factory=dict)

    def done(self, name: str) -> None:
        now = time.monotonic()
        self.took[name] = now - self.started
        self.started = now
        print(f"[phase] {name}: {self.took[name]:.1f} s", flush=True)
