"""What per-person limits shared across replicas cost on intake's hot path: a report POST.

    uv run python bench/person_limits_intake.py [--seconds 5] [--rounds 3] [--concurrency 32]

Intake autoscales, so its per-person limits are counted once across replicas: every `/v1`
request a limit admits locally pays one statement on intake's PostgreSQL (a GCRA row per
person, `shouwang_servicekit.sharedlimits`). Here two real intake processes run side by
side on the same Kafka and PostgreSQL (started here, or those named by
`KAFKA_BOOTSTRAP_SERVERS` / `DATABASE_URL`), each on a fresh migrated database, the same
but for their limits:

- **per-process**: intake with `person_limits()` given no database (as before the change);
- **shared, block 1**: `person_limits(settings.database_url)` with a statement per request
  (`SHOUWANG_PERSON_LIMITS_BLOCK=1`);
- **shared, block N**: intake as shipped, a replica claiming N of a person's requests per
  statement (intake's default, or `--block`).

All three are served by this script (`serve <variant>`, intake's own `create_app` and
`run_service`), so they differ in nothing else. The limits are set high enough that nobody is refused: the figures are the cost of
counting. Two loads, each with `--concurrency` clients in a closed loop: **many people**
(each request from one of as many reporters as there are clients: rows that do not wait
for each other) and **one person** (every request counts on the same row: the worst case,
and a stolen token's). Each round measures both servers in an order rotated from round to
round. Prints accepted reports/s (median and range of the rounds), the server's CPU ms per
report (PostgreSQL's not included: it shares the machine, so it shows in the rates), and
each shared variant's ratio to per-process (median of the rounds' own ratios, with range).
Exits 1 if any request was not answered 202.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import asyncpg
import uvloop
from intake_throughput import _body, _cpu_seconds
from loadgen import closed_loop, encode_requests
from pydantic import SecretStr
from shouwang_contracts.vocabulary import Role
from shouwang_devstack._proc import free_port
from shouwang_devstack.services import ServiceProcess
from shouwang_intake.config import IntakeSettings
from shouwang_intake.main import create_app
from shouwang_servicekit.app import run_service
from shouwang_servicekit.ratelimits import PersonLimits
from stack import BenchStack, bench_stack

PLENTY = 1_000_000_000  # a limit nobody reaches here: the cost of counting, never a refusal
FELL_BACK = "shared person limits unavailable"


class PerProcessSettings(IntakeSettings):
    """Intake's settings whose person limits are counted per process (no database)."""

    def person_limits(self, database_url: SecretStr | None = None) -> PersonLimits:
        return super().person_limits(None)


@dataclass
class BenchIntake(ServiceProcess):
    """Intake served by this script, its limits per process or shared."""

    variant: str = "shared"

    def command(self) -> list[str]:
        return [sys.executable, __file__, "serve", self.variant]


def launch_intake(stack: BenchStack, variant: str, **env: str) -> BenchIntake:
    """Launch one variant without waiting until it is ready (`BenchStack.ready`), so the
    variants start side by side."""
    process = BenchIntake(
        "intake",
        log_path=stack.workdir / f"intake-{len(stack.started)}.log",
        env=stack.service_env("intake", **env),
        port=free_port(),
        die_with_parent=True,
        variant=variant,
    )
    process.launch()
    stack.started.append(process)
    return process


@dataclass
class Figures:
    rates: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    errors: int = 0


def requests_of(server: ServiceProcess, stack: BenchStack, people: int) -> list[bytes]:
    """20,000 report POSTs, request i from reporter i mod `people`."""
    address = urlsplit(server.base_url)
    host, port = address.hostname or "127.0.0.1", address.port or 80
    by_person = [
        encode_requests(
            host,
            port,
            "/v1/reports",
            {
                "Authorization": f"Bearer {stack.token(Role.DORM_LEADER, sub=f'B{p:04d}')}",
                "Content-Type": "application/json",
            },
            [_body(i) for i in range(p, 20_000, people)],
        )
        for p in range(people)
    ]
    return [by_person[i % people][i // people] for i in range(20_000)]


async def measure(
    servers: Mapping[str, ServiceProcess], stack: BenchStack, args: argparse.Namespace
) -> dict[tuple[str, str], Figures]:
    loads = {"many people": args.concurrency, "one person": 1}
    figures = {(load, name): Figures() for load in loads for name in servers}
    for load, people in loads.items():
        targets = []
        for name, server in servers.items():
            requests = requests_of(server, stack, people)
            address = urlsplit(server.base_url)
            host, port = address.hostname or "127.0.0.1", address.port or 80
            await closed_loop(host, port, requests, args.warmup, args.concurrency, 202)
            targets.append((name, server, host, port, requests))
        for n in range(args.rounds):
            turn = n % len(targets)
            for name, server, host, port, requests in targets[turn:] + targets[:turn]:
                assert server.pid is not None
                cpu_before = _cpu_seconds(server.pid)
                rate, errors = await closed_loop(
                    host, port, requests, args.seconds, args.concurrency, 202
                )
                spent = _cpu_seconds(server.pid) - cpu_before
                figure = figures[(load, name)]
                figure.rates.append(rate)
                figure.cpu_ms.append(spent / max(rate * args.seconds, 1.0) * 1000)
                figure.errors += errors
    return figures


def report(
    figures: dict[tuple[str, str], Figures], args: argparse.Namespace, fell_back: int, rows: int
) -> None:
    print(
        f"\nintake's report POST, per-person limits per process or shared: {args.rounds}"
        f" interleaved rounds of {args.seconds:g}s closed loops with {args.concurrency} clients"
    )
    print(f"{'':30}{'reports/s':>10}{'range':>14}{'CPU ms':>8}{'errors':>8}")
    for (load, name), f in figures.items():
        spread = f"{min(f.rates):.0f}-{max(f.rates):.0f}"
        print(
            f"{load + ', ' + name:30}{statistics.median(f.rates):>10.0f}{spread:>14}"
            f"{statistics.median(f.cpu_ms):>8.3f}{f.errors:>8}"
        )
    for load, name in figures:
        if name == "per-process":
            continue
        local, shared = figures[(load, "per-process")], figures[(load, name)]
        ratios = [s / p for s, p in zip(shared.rates, local.rates, strict=True)]
        print(
            f"ratio {name}/per-process, {load}: reports/s {statistics.median(ratios):.2f}"
            f" ({min(ratios):.2f}-{max(ratios):.2f}), CPU ms per report"
            f" {statistics.median(shared.cpu_ms) / statistics.median(local.cpu_ms):.2f}"
        )
    print(f"shared counter unanswered (fell back to the local limit): {fell_back} times")
    print(f"rows the shared counters wrote (inserted or updated): {rows}")


async def counted(dsns: list[str]) -> int:
    """Rows the shared counters inserted or updated (PostgreSQL's statistics, which lag a
    moment): proof the shared variants did count in their tables."""
    total = 0
    for dsn in dsns:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("SELECT pg_stat_force_next_flush()")
            total += int(
                await conn.fetchval(
                    "SELECT coalesce(sum(n_tup_ins + n_tup_upd), 0) FROM pg_stat_all_tables"
                    " WHERE relname = 'person_limits'"
                )
            )
        finally:
            await conn.close()
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each loop")
    parser.add_argument("--rounds", type=int, default=3, help="closed loops per server and load")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--block", type=int, default=IntakeSettings.model_fields["person_limits_block"].default
    )
    args = parser.parse_args()
    if args.rounds < 1 or args.seconds <= 0 or args.concurrency < 1:
        parser.error("--rounds, --seconds and --concurrency must be positive")
    with bench_stack() as stack:
        limits = {
            "SHOUWANG_PER_PERSON_PER_MINUTE": str(PLENTY),
            "SHOUWANG_PER_PERSON_BURST": str(PLENTY),
        }
        local = launch_intake(stack, "per-process", **limits)
        shared = {
            f"shared, block {b}": launch_intake(
                stack, "shared", **limits, SHOUWANG_PERSON_LIMITS_BLOCK=str(b)
            )
            for b in (1, args.block)
        }
        servers = {"per-process": local, **shared}
        stack.ready(*servers.values())
        figures = uvloop.run(measure(servers, stack, args))
        fell_back = sum(
            s.log_path.read_text("utf-8", errors="replace").count(FELL_BACK)
            for s in shared.values()
        )
        rows = uvloop.run(counted([s.env["INTAKE_DATABASE_URL"] for s in shared.values()]))
    report(figures, args, fell_back, rows)
    return 0 if all(f.errors == 0 for f in figures.values()) else 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        settings = PerProcessSettings() if sys.argv[2] == "per-process" else IntakeSettings()
        run_service("intake", create_app, settings)
    else:
        sys.exit(main())
