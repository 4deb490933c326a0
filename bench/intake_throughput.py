"""Intake's throughput and latency beside a bare FastAPI endpoint on the same machine.

    uv run python bench/intake_throughput.py [--seconds 10] [--rounds 3] [--concurrency 32]

Starts real Kafka and PostgreSQL (or uses KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL), intake
(auth, validation, note sealing, acks=all publish, receipt in PostgreSQL), the baseline
(bench/baseline_app.py: parse the JSON, answer 202) and the floor (bench/floor_app.py:
validate and wait for an acks=all write, nothing else: what any endpoint keeping intake's
promise costs on this machine). All three run side by side with the same uvicorn settings.

Each round measures every server's maximum rate of accepted reports with closed-loop
clients, and the server's CPU time per accepted report, one server after another in an
order rotated per round. Then each server's p50/p99 latency at a fixed offered load of half
its median rate (an open loop, so latency is not just queueing). Prints the medians and the
ratios intake/baseline (aim >= 0.5), floor/baseline and intake/floor, each the median of the
rounds' ratios with their range.

Then raw Kafka, measured on the same machine with the records intake published (`raw_kafka.py`):
Kafka's own producer benchmark (the broker's capacity with acks=all) and aiokafka alone with as
many senders as there were clients, each awaiting its ack (the ceiling of intake's Kafka client),
and intake's share of each. The HTTP figures are printed before raw Kafka is measured. Exits 1
if any request was not answered 202 or any record not acknowledged.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import uvloop
from loadgen import closed_loop, encode_requests, open_loop  # bench/ is on sys.path
from raw_kafka import (
    BrokerFigures,
    ClientFigures,
    aiokafka_closed_loop,
    intake_records,
    producer_performance,
    scratch_topic,
    unacknowledged,
)
from shouwang_contracts.vocabulary import Role
from shouwang_devstack._proc import free_port
from shouwang_intake.config import IntakeSettings
from stack import bench_stack

SIGNALS = ["persistent_low_mood", "sleep_disturbance", "social_withdrawal", "academic_decline"]


@dataclass
class Server:
    name: str
    base_url: str
    pid: int


@dataclass
class Round:
    rate: float  # accepted reports per second in one closed loop
    errors: int
    cpu_ms: float  # the server's CPU time per accepted report in that loop


@dataclass
class Figures:
    name: str
    rounds: list[Round]
    p50_ms: float
    p99_ms: float
    offered: float
    open_errors: int

    @property
    def rate(self) -> float:
        return statistics.median(r.rate for r in self.rounds)

    @property
    def cpu_ms(self) -> float:
        return statistics.median(r.cpu_ms for r in self.rounds)

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.rounds) + self.open_errors


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _body(i: int) -> bytes:
    return json.dumps(
        {
            "campus_id": "demo",
            "student_no": f"2024{i % 20000:06d}",
            "signals": [SIGNALS[i % 4], SIGNALS[(i + 1) % 4]],
            "observed_at": (datetime.now(UTC) - timedelta(minutes=10)).isoformat(),
            "note": "最近常常一个人待在寝室，不去上课。",
            "location": "8号楼202",
        },
        ensure_ascii=False,
    ).encode()


async def measure(
    servers: list[Server],
    headers: dict[str, str],
    *,
    seconds: float,
    rounds: int,
    warmup: float,
    concurrency: int,
) -> list[Figures]:
    """Closed loops in interleaved rounds, then latency at half each server's median rate.

    Each round measures every server once, in an order rotated per round, so a machine that
    gets slower or faster during the run (two shared cores drift by a fifth within minutes)
    moves all servers' figures alike instead of whichever was measured then.
    """
    bodies = [_body(i) for i in range(20_000)]
    targets = []
    for server in servers:
        address = urlsplit(server.base_url)
        host, port = address.hostname or "127.0.0.1", address.port or 80
        requests = encode_requests(host, port, "/v1/reports", headers, bodies)
        await closed_loop(host, port, requests, warmup, concurrency, 202)  # connections, caches
        targets.append((server, host, port, requests))
    samples: dict[str, list[Round]] = {server.name: [] for server in servers}
    for n in range(rounds):
        for server, host, port, requests in (
            targets[n % len(targets) :] + targets[: n % len(targets)]
        ):
            cpu_before = _cpu_seconds(server.pid)
            rate, errors = await closed_loop(host, port, requests, seconds, concurrency, 202)
            cpu_ms = (_cpu_seconds(server.pid) - cpu_before) / max(rate * seconds, 1.0) * 1000
            samples[server.name].append(Round(rate, errors, cpu_ms))
    figures = []
    for server, host, port, requests in targets:
        offered = max(statistics.median(r.rate for r in samples[server.name]) / 2, 1.0)
        latencies, open_errors = await open_loop(host, port, requests, seconds, offered, 202)
        # A loaded machine may answer fewer than 100 in the window: the percentiles of what
        # did come back (inclusive: p99 of a few is near their slowest), nan only for none.
        if len(latencies) >= 2:
            cuts = statistics.quantiles(latencies, n=100, method="inclusive")
        else:
            cuts = [latencies[0] if latencies else float("nan")] * 99
        figures.append(
            Figures(
                server.name,
                samples[server.name],
                cuts[49] * 1000,
                cuts[98] * 1000,
                offered,
                open_errors,
            )
        )
    return figures


@dataclass
class RawKafka:
    record_bytes: float  # mean size of intake's records replayed
    broker: BrokerFigures
    broker_errors: int
    client: ClientFigures


async def measure_raw_kafka(bootstrap: str, *, seconds: float, concurrency: int) -> RawKafka:
    """Raw Kafka with intake's own records, intake's durability and its linger."""
    linger_ms = IntakeSettings().linger_ms
    records = await intake_records(bootstrap, 2000)
    async with scratch_topic(bootstrap) as topic:
        # Enough records for about `seconds` at the tens of thousands per second a broker on
        # two cores takes; the JVM's start is not counted in its figure.
        count = max(int(seconds * 20_000), 10_000)
        broker = await asyncio.to_thread(
            producer_performance, bootstrap, topic, records, count=count, linger_ms=linger_ms
        )
        client = await aiokafka_closed_loop(
            bootstrap,
            topic,
            records,
            seconds=seconds,
            concurrency=concurrency,
            linger_ms=linger_ms,
        )
    return RawKafka(
        statistics.mean(len(r.value) for r in records),
        broker,
        unacknowledged(broker, count),
        client,
    )


def paired_ratios(over: Figures, under: Figures) -> list[float]:
    """`over`'s rate divided by `under`'s, round by round (measured minutes apart at most)."""
    return [
        a.rate / b.rate if b.rate else 0.0 for a, b in zip(over.rounds, under.rounds, strict=True)
    ]


def _spread(values: list[float]) -> str:
    """`median (min–max)` of per-round ratios, or the one value."""
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"


@contextmanager
def _bench_server(script: str, *args: str) -> Iterator[tuple[str, int]]:
    """Serve one of bench/'s comparison apps on a free port; yields (base url, pid)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name(script)), str(port), *args]
    )
    try:
        _wait_ready(f"http://127.0.0.1:{port}/readyz", process)
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        process.terminate()
        process.wait(10)


def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    import urllib.request

    for _ in range(200):
        if process.poll() is not None:
            raise RuntimeError(f"{url} server exited")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback only
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} not ready")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each loop")
    parser.add_argument("--rounds", type=int, default=3, help="closed loops per server")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    if args.rounds < 1 or args.seconds <= 0 or args.concurrency < 1:
        parser.error("--rounds, --seconds and --concurrency must be positive")

    with bench_stack() as stack:
        intake = stack.launch("intake")  # starts while the comparison apps do
        headers = {
            "Authorization": f"Bearer {stack.token(Role.DORM_LEADER)}",
            "Content-Type": "application/json",
        }
        with (
            _bench_server("baseline_app.py") as (base_url, base_pid),
            _bench_server("floor_app.py", stack.bootstrap) as (floor_url, floor_pid),
        ):
            stack.ready(intake)
            assert intake.pid is not None
            servers = [
                Server("baseline (bare FastAPI)", base_url, base_pid),
                Server("floor (validate, acks=all publish)", floor_url, floor_pid),
                Server("intake (auth, seal, acks=all, receipt)", intake.base_url, intake.pid),
            ]
            base, floor, real = uvloop.run(
                measure(
                    servers,
                    headers,
                    seconds=args.seconds,
                    rounds=args.rounds,
                    warmup=args.warmup,
                    concurrency=args.concurrency,
                )
            )
        # Printed before raw Kafka is measured: a failure there keeps these figures.
        _print_http(args, base, floor, real)
        raw = uvloop.run(
            measure_raw_kafka(stack.bootstrap, seconds=args.seconds, concurrency=args.concurrency)
        )
    _print_raw_kafka(args, real, raw)
    errors = base.errors + floor.errors + real.errors + raw.broker_errors + raw.client.errors
    return 0 if errors == 0 else 1


def _print_http(args: argparse.Namespace, base: Figures, floor: Figures, real: Figures) -> None:
    print(
        f"\nintake throughput: {args.rounds} interleaved rounds of {args.seconds:g}s closed loops"
        f" with {args.concurrency} clients, then latency at half the median rate"
    )
    print(
        f"{'endpoint':40} {'accepted/s':>11} {'min-max':>11} {'CPU ms/req':>11}"
        f" {'offered/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}"
    )
    for f in (base, floor, real):
        low, high = min(r.rate for r in f.rounds), max(r.rate for r in f.rounds)
        print(
            f"{f.name:40} {f.rate:11.0f} {f'{low:.0f}-{high:.0f}':>11} {f.cpu_ms:11.2f}"
            f" {f.offered:10.0f} {f.p50_ms:8.1f} {f.p99_ms:8.1f} {f.errors:7d}"
        )
    print(
        f"ratio intake/baseline (accepted/s, paired rounds): {_spread(paired_ratios(real, base))}"
        "  (aim >= 0.5)"
    )
    print(
        f"ratio floor/baseline: {_spread(paired_ratios(floor, base))};"
        f" intake/floor: {_spread(paired_ratios(real, floor))}",
        flush=True,
    )


def _print_raw_kafka(args: argparse.Namespace, real: Figures, raw: RawKafka) -> None:
    print(
        f"\nraw Kafka on this machine: acks=all, idempotent, linger as intake's, intake's own"
        f" records ({raw.record_bytes:.0f} bytes on average) to a topic configured like reports"
    )
    print(
        f"{'producer':56} {'records/s':>10} {'CPU ms/rec':>11} {'p50 ms':>8} {'p99 ms':>8}"
        f" {'errors':>7}"
    )
    print(
        f"{'kafka-clients (Java ProducerPerformance, open loop)':56} {raw.broker.rate:10.0f}"
        f" {'-':>11} {raw.broker.p50_ms:8.0f} {raw.broker.p99_ms:8.0f} {raw.broker_errors:7d}"
    )
    print(
        f"{f'aiokafka ({args.concurrency} senders, each awaits its ack)':56}"
        f" {raw.client.rate:10.0f} {raw.client.cpu_ms:11.3f} {'-':>8} {'-':>8}"
        f" {raw.client.errors:7d}"
    )
    print(
        f"ratio intake/raw Kafka: {real.rate / raw.broker.rate:.3f} of the broker's capacity,"
        f" {real.rate / raw.client.rate:.2f} of aiokafka's closed loop"
    )


if __name__ == "__main__":
    raise SystemExit(main())
