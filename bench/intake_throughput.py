"""Intake's throughput and latency beside a bare FastAPI endpoint on the same machine.

    uv run python bench/intake_throughput.py [--seconds 15] [--concurrency 32]

Starts real Kafka and PostgreSQL (or uses KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL), intake
(auth, validation, note sealing, acks=all publish, receipt in PostgreSQL), the baseline
(bench/baseline_app.py: parse the JSON, answer 202) and the floor (bench/floor_app.py:
validate and wait for an acks=all write, nothing else: what any endpoint keeping intake's
promise costs on this machine). For each: the maximum rate of accepted reports with
closed-loop clients, then p50/p99 latency at a fixed offered load of half that maximum (an
open loop, so latency is not just queueing), and the server's CPU time per accepted report.
Prints the figures and the ratios intake/baseline (aim >= 0.5) and intake/floor.
"""

from __future__ import annotations

import argparse
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
from shouwang_contracts.vocabulary import Role
from shouwang_devstack._proc import free_port
from stack import bench_stack

SIGNALS = ["persistent_low_mood", "sleep_disturbance", "social_withdrawal", "academic_decline"]


@dataclass
class Figures:
    name: str
    rate: float
    errors: int
    p50_ms: float
    p99_ms: float
    offered: float
    cpu_ms: float  # server CPU time per accepted report in the closed loop


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
    name: str, base_url: str, headers: dict[str, str], seconds: float, concurrency: int, pid: int
) -> Figures:
    address = urlsplit(base_url)
    host, port = address.hostname or "127.0.0.1", address.port or 80
    requests = encode_requests(
        host, port, "/v1/reports", headers, [_body(i) for i in range(20_000)]
    )
    await closed_loop(host, port, requests, 2.0, concurrency, 202)  # warm-up: connections, caches
    cpu_before = _cpu_seconds(pid)
    rate, errors = await closed_loop(host, port, requests, seconds, concurrency, 202)
    cpu_ms = (_cpu_seconds(pid) - cpu_before) / max(rate * seconds, 1.0) * 1000
    offered = max(rate / 2, 1.0)
    latencies, open_errors = await open_loop(host, port, requests, seconds, offered, 202)
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) >= 100 else [float("nan")] * 99
    return Figures(
        name, rate, errors + open_errors, cuts[49] * 1000, cuts[98] * 1000, offered, cpu_ms
    )


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
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()

    with bench_stack() as stack:
        intake = stack.service("intake")
        headers = {
            "Authorization": f"Bearer {stack.token(Role.DORM_LEADER)}",
            "Content-Type": "application/json",
        }

        def run(name: str, base_url: str, pid: int) -> Figures:
            return uvloop.run(measure(name, base_url, headers, args.seconds, args.concurrency, pid))

        with _bench_server("baseline_app.py") as (url, pid):
            base = run("baseline (bare FastAPI)", url, pid)
        with _bench_server("floor_app.py", stack.bootstrap) as (url, pid):
            floor = run("floor (validate, acks=all publish)", url, pid)
        assert intake.pid is not None
        real = run("intake (auth, seal, acks=all, receipt)", intake.base_url, intake.pid)

    print(
        f"\nintake throughput: {args.seconds:.0f}s closed loop with {args.concurrency} clients,"
        " then latency at half that rate"
    )
    print(
        f"{'endpoint':40} {'accepted/s':>11} {'CPU ms/req':>11} {'offered/s':>10}"
        f" {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}"
    )
    for f in (base, floor, real):
        print(
            f"{f.name:40} {f.rate:11.0f} {f.cpu_ms:11.2f} {f.offered:10.0f}"
            f" {f.p50_ms:8.1f} {f.p99_ms:8.1f} {f.errors:7d}"
        )
    ratio = real.rate / base.rate if base.rate else 0.0
    print(f"ratio intake/baseline (accepted/s): {ratio:.2f}  (aim >= 0.5)")
    print(
        f"ratio floor/baseline: {floor.rate / base.rate if base.rate else 0.0:.2f};"
        f" intake/floor: {real.rate / floor.rate if floor.rate else 0.0:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
