"""Intake's throughput and latency beside a bare FastAPI endpoint on the same machine.

    uv run python bench/intake_throughput.py [--seconds 15] [--concurrency 32]

Starts real Kafka and PostgreSQL (or uses KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL), intake
(auth, validation, note sealing, acks=all publish, receipt in PostgreSQL) and the baseline
(bench/baseline_app.py: parse the JSON, answer 202). For each: the maximum rate of accepted
reports with closed-loop clients, then p50/p99 latency at a fixed offered load of half that
maximum (an open loop, so latency is not just queueing). Prints the figures and the ratio
intake/baseline. Aim: ratio >= 0.5.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from shouwang_contracts.vocabulary import Role
from shouwang_devstack._proc import free_port
from stack import bench_stack  # bench/ is on sys.path when run as a script

SIGNALS = ["persistent_low_mood", "sleep_disturbance", "social_withdrawal", "academic_decline"]


@dataclass
class Figures:
    name: str
    rate: float
    errors: int
    p50_ms: float
    p99_ms: float
    offered: float


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


async def _closed_loop(
    url: str, headers: dict[str, str], seconds: float, concurrency: int
) -> tuple[float, int]:
    """Each client sends its next request when the last answered: the maximum rate."""
    accepted = 0
    errors = 0
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def client(n: int) -> None:
            nonlocal accepted, errors
            i = n
            while time.perf_counter() < deadline:
                async with session.post(url, data=_body(i)) as response:
                    await response.read()
                    if response.status == 202:
                        accepted += 1
                    else:
                        errors += 1
                i += concurrency

        started = time.perf_counter()
        await asyncio.gather(*(client(n) for n in range(concurrency)))
        elapsed = time.perf_counter() - started
    return accepted / elapsed, errors


async def _open_loop(
    url: str, headers: dict[str, str], seconds: float, rate: float
) -> tuple[list[float], int]:
    """Requests start on a fixed schedule whatever the answers: latency at a known load."""
    latencies: list[float] = []
    errors = 0
    interval = 1.0 / rate
    connector = aiohttp.TCPConnector(limit=512)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def one(i: int) -> None:
            nonlocal errors
            started = time.perf_counter()
            async with session.post(url, data=_body(i)) as response:
                await response.read()
                if response.status == 202:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1

        tasks = []
        begin = time.perf_counter()
        for i in range(int(seconds * rate)):
            delay = begin + i * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
    return latencies, errors


async def measure(
    name: str, url: str, headers: dict[str, str], seconds: float, concurrency: int
) -> Figures:
    await _closed_loop(url, headers, 2.0, concurrency)  # warm-up: connections, JIT-free caches
    rate, errors = await _closed_loop(url, headers, seconds, concurrency)
    offered = max(rate / 2, 1.0)
    latencies, open_errors = await _open_loop(url, headers, seconds, offered)
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) >= 100 else [float("nan")] * 99
    return Figures(name, rate, errors + open_errors, cuts[49] * 1000, cuts[98] * 1000, offered)


def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    import urllib.request

    for _ in range(200):
        if process.poll() is not None:
            raise RuntimeError("baseline exited")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback only
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("baseline not ready")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()

    with bench_stack() as stack:
        intake = stack.service("intake")
        port = free_port()
        baseline = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("baseline_app.py")), str(port)]
        )
        try:
            _wait_ready(f"http://127.0.0.1:{port}/readyz", baseline)
            headers = {
                "Authorization": f"Bearer {stack.token(Role.DORM_LEADER)}",
                "Content-Type": "application/json",
            }
            base = asyncio.run(
                measure(
                    "baseline (bare FastAPI)",
                    f"http://127.0.0.1:{port}/v1/reports",
                    headers,
                    args.seconds,
                    args.concurrency,
                )
            )
            real = asyncio.run(
                measure(
                    "intake (auth, seal, acks=all, receipt)",
                    f"{intake.base_url}/v1/reports",
                    headers,
                    args.seconds,
                    args.concurrency,
                )
            )
        finally:
            baseline.terminate()
            baseline.wait(10)

    print(
        f"\nintake throughput: {args.seconds:.0f}s closed loop with {args.concurrency} clients, then latency at half that rate"
    )
    print(
        f"{'endpoint':42} {'accepted/s':>11} {'offered/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}"
    )
    for f in (base, real):
        print(
            f"{f.name:42} {f.rate:11.0f} {f.offered:10.0f} {f.p50_ms:8.1f} {f.p99_ms:8.1f} {f.errors:7d}"
        )
    ratio = real.rate / base.rate if base.rate else 0.0
    print(f"ratio intake/baseline (accepted/s): {ratio:.2f}  (aim >= 0.5)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
