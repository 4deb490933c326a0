"""How soon an event a request commits reaches Kafka, and what idle relays cost PostgreSQL.

    uv run python bench/outbox_latency.py [--acks 100] [--idle-seconds 30] [--rounds 2]

Casework runs as two replicas (as on Kubernetes), consumers off, on a fresh database each,
in two modes per round, in an order rotated from round to round:

- **poll** (the baseline, as before 2026-12-06): the outbox's insert trigger dropped and the
  relay polling every 0.2 s, so a request's event waits for the leader's next poll;
- **notify**: as shipped, the trigger notifies the leader at commit (LISTEN/NOTIFY) and the
  poll (1 s) is only the safety net.

Per mode: first the idle cost, the statements per second casework's role runs in its
database (pg_stat_statements, preloaded in the PostgreSQL started here; "n/a" on one named by
`DATABASE_URL` without it) while nothing happens but the relays and casework's chores (the same
in both modes); then `--acks` alerts, seeded as casework's
consumers would apply them, are acknowledged over HTTP one at a time (a random 50-300 ms
apart, alternating replicas, so half land on the one that does not lead), each timed from the
request to the `AlertAcknowledged` record read back from the cases topic.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer
from shouwang_casework.adapters.db import campus_transaction
from shouwang_casework.adapters.outbox import claim_event
from shouwang_casework.service_layer.warnings import on_alert_raised, on_assessment
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.events.casework import AlertAcknowledged
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_contracts.topics import CASES
from shouwang_contracts.vocabulary import Role
from shouwang_devstack.provision import provision_fresh, with_database
from shouwang_devstack.topics import assign_at_end

sys.path.insert(0, str(Path(__file__).parent))
from stack import BenchStack, bench_stack
from triage_events import moderate_warning

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
STUDENT_NO = "2024020001"  # in roster_students.csv, 8号楼
COUNSELOR = "T1002"  # counsels 8号楼 in roster_staff.csv
MODES = {"poll": "0.2", "notify": "1.0"}


async def seed(dsn: str, campus: str, stack: BenchStack, count: int) -> list[str]:
    """`count` open alerts on one student's case, applied as casework's consumers do."""
    cipher = NoteCipher.from_config(stack.secrets["SHOUWANG_NOTE_KEYS"])
    student = Pseudonymizer(stack.secrets["SHOUWANG_PSEUDONYM_KEY"].encode()).student_ref(
        campus, STUDENT_NO
    )
    alerts = []
    async with asyncpg.create_pool(dsn, min_size=1, max_size=2) as pool:
        for _ in range(count):
            assessment, alert = moderate_warning(campus, student)
            async with campus_transaction(pool, campus) as conn:
                await claim_event(conn, consumer="bench", event_id=assessment.id, campus_id=campus)
                await on_assessment(conn, assessment, cipher)
            async with campus_transaction(pool, campus) as conn:
                await claim_event(conn, consumer="bench", event_id=alert.id, campus_id=campus)
                await on_alert_raised(conn, alert, cipher)
            alerts.append(alert.data.alert_id)
    return alerts


async def statements(admin: str, database: str) -> int | None:
    """Statements casework's role ran in `database` so far (pg_stat_statements, which counts
    every one: a read-only transaction touching no table never reaches pg_stat_database's
    transaction counts); None where the extension is not loaded."""
    conn = await asyncpg.connect(with_database(admin, database))
    try:
        loaded = await conn.fetchval("SELECT current_setting('shared_preload_libraries')")
        if "pg_stat_statements" not in loaded:
            return None
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        return int(
            await conn.fetchval(
                "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements"
                " WHERE userid = 'casework'::regrole AND dbid = (SELECT oid FROM pg_database"
                " WHERE datname = current_database())"
            )
        )
    finally:
        await conn.close()


async def led(urls: list[str], within: float = 60) -> None:
    """Until one replica leads the relay and listens for commits (its
    `casework_outbox_relay_listening` gauge at 1): the replicas have settled."""
    listening = re.compile(r"^casework_outbox_relay_listening\{[^}]*\} 1(\.0)?$", re.M)
    async with httpx.AsyncClient(timeout=10) as http, asyncio.timeout(within):
        while True:
            for url in urls:
                if listening.search((await http.get(f"{url}/metrics")).text):
                    return
            await asyncio.sleep(0.1)


async def relayed(admin: str, database: str, within: float = 60) -> None:
    """Until the relay has published every event in the outbox (the seeded alerts' own)."""
    conn = await asyncpg.connect(with_database(admin, database))
    try:
        async with asyncio.timeout(within):
            while True:
                unpublished = await conn.fetchval(
                    "SELECT count(*) FROM casework.outbox WHERE published_at IS NULL"
                )
                if not unpublished:
                    return
                await asyncio.sleep(0.1)
    finally:
        await conn.close()


async def measure(stack: BenchStack, urls: list[str], dsn: str, args: argparse.Namespace) -> Any:
    database = dsn.rsplit("/", 1)[1].split("?")[0]
    await led(urls)
    before, started = await statements(stack.admin_dsn, database), time.monotonic()
    await asyncio.sleep(args.idle_seconds)
    after = await statements(stack.admin_dsn, database)
    idle = (
        None if before is None or after is None else (after - before) / (time.monotonic() - started)
    )

    campus = "demo"
    alerts = await seed(dsn, campus, stack, args.acks)
    seen: dict[str, float] = {}
    arrived = asyncio.Event()
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.bootstrap, enable_auto_commit=False)
    await consumer.start()
    await assign_at_end(consumer, CASES)

    async def watch() -> None:
        while True:
            for records in (await consumer.getmany(timeout_ms=100)).values():
                for r in records:
                    if dict(r.headers).get("ce_type") == AlertAcknowledged.EVENT_TYPE.encode():
                        seen[json.loads(r.value)["data"]["alert_id"]] = time.perf_counter()
                        arrived.set()

    watching = asyncio.create_task(watch())
    token = stack.token(Role.RESIDENCE_COUNSELOR, COUNSELOR, campus)
    latencies = []
    try:
        async with httpx.AsyncClient(
            timeout=30, headers={"Authorization": f"Bearer {token}"}
        ) as http:
            await relayed(stack.admin_dsn, database)
            for i, alert_id in enumerate(alerts):
                await asyncio.sleep(random.uniform(0.05, 0.3))
                sent = time.perf_counter()
                answer = await http.post(f"{urls[i % 2]}/v1/alerts/{alert_id}/acknowledgement")
                answer.raise_for_status()
                async with asyncio.timeout(30):
                    while alert_id not in seen:
                        arrived.clear()
                        await arrived.wait()
                latencies.append(seen[alert_id] - sent)
    finally:
        watching.cancel()
        await asyncio.gather(watching, return_exceptions=True)
        await consumer.stop()
    return idle, latencies


def run_mode(
    stack: BenchStack, mode: str, args: argparse.Namespace
) -> tuple[float | None, list[float]]:
    dsn = provision_fresh(
        stack.admin_dsn, "casework", secret=stack.secrets["SHOUWANG_DB_ROLE_SECRET"]
    )
    if mode == "poll":
        database = dsn.rsplit("/", 1)[1].split("?")[0]

        async def drop() -> None:
            conn = await asyncpg.connect(with_database(stack.admin_dsn, database))
            await conn.execute("DROP TRIGGER outbox_notify ON casework.outbox")
            await conn.close()

        asyncio.run(drop())
    env = {
        "CASEWORK_DATABASE_URL": dsn,
        "CASEWORK_CONSUMERS_ENABLED": "false",
        "CASEWORK_RELAY_IDLE_SECONDS": MODES[mode],
    }
    replicas = [stack.launch("casework", **env) for _ in range(2)]
    stack.ready(*replicas)
    try:
        admin = {"Authorization": f"Bearer {stack.token(Role.CAMPUS_ADMIN, 'A0001', 'demo')}"}
        with httpx.Client(timeout=60) as http:
            for kind, file in (("students", "roster_students.csv"), ("staff", "roster_staff.csv")):
                http.post(
                    f"{replicas[0].base_url}/v1/roster/{kind}",
                    files={"file": (file, (SAMPLES / file).read_bytes(), "text/csv")},
                    headers=admin,
                ).raise_for_status()
        result: tuple[float | None, list[float]] = asyncio.run(
            measure(stack, [r.base_url for r in replicas], dsn, args)
        )
        return result
    finally:
        stack.stop(*replicas)


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _rate(values: list[float | None]) -> str:
    known = [v for v in values if v is not None]
    return f"{statistics.median(known):.2f}" if known else "n/a"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--acks", type=int, default=100)
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    idle: dict[str, list[float | None]] = {mode: [] for mode in MODES}
    latency: dict[str, list[float]] = {mode: [] for mode in MODES}
    with bench_stack({"shared_preload_libraries": "pg_stat_statements"}) as stack:
        for round_no in range(args.rounds):
            order = list(MODES) if round_no % 2 == 0 else list(reversed(MODES))
            for mode in order:
                rate, latencies = run_mode(stack, mode, args)
                idle[mode].append(rate)
                latency[mode].extend(latencies)
                print(
                    f"round {round_no + 1} {mode:6}: idle {_rate([rate])} statements/s,"
                    f" ack->Kafka p50 {quantile(latencies, 0.5) * 1000:.1f} ms",
                    flush=True,
                )
    print(
        f"\nHTTP acknowledgement -> AlertAcknowledged on Kafka ({args.rounds} x {args.acks}"
        " acks per mode, two casework replicas); idle: statements/s casework ran, both replicas"
    )
    print(f"{'mode':8}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'idle stmt/s':>13}")
    for mode in MODES:
        values = latency[mode]
        print(
            f"{mode:8}{quantile(values, 0.5) * 1000:9.1f}{quantile(values, 0.99) * 1000:9.1f}"
            f"{max(values) * 1000:9.1f}{_rate(idle[mode]):>13}"
        )
    p50 = quantile(latency["notify"], 0.5) / quantile(latency["poll"], 0.5)
    p99 = quantile(latency["notify"], 0.99) / quantile(latency["poll"], 0.99)
    known = [_rate(idle[mode]) for mode in MODES]
    cost = "n/a" if "n/a" in known else f"x{float(known[1]) / float(known[0]):.2f}"
    print(f"notify/poll: p50 x{p50:.2f}, p99 x{p99:.2f}, idle statements {cost}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
