"""What per-person limits shared across replicas cost on a hot read: casework's case queue.

    uv run python bench/person_limits.py [--cases 20] [--requests 400] [--clients 8] [--rounds 3]

A counselor's tab refreshes the case queue every 15 s: the hottest read a person makes, and
an audited one, so a shared limit costs it two statements (every `/v1` request, and the
audited reads). Here the queue is read through the kit's edge (`service_app`: token, role
guards, limits, problem+json) on real PostgreSQL (started here, or the one named by
`DATABASE_URL`), in a fresh migrated casework database holding `--cases` open cases, by
`--clients` people at once, each reading flat out, in-process (httpx's ASGI transport, so
what differs is the limits, not a network). Two apps, the same but for their limits:

- **per-process**: `PersonLimits` as before this change (each replica counts alone);
- **shared**: the same limits with a `SharedCounter` on the database (one GCRA statement per
  limit on a separate small pool).

The limits are set high enough that nobody is refused: the figures are the cost of counting.
Each round measures both, in an order rotated from round to round. Prints requests/s and
p50/p95 latency per variant (medians of the rounds) and the ratios shared/per-process.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

import asyncpg
import httpx
from fastapi import APIRouter, FastAPI, Request
from prometheus_client import CollectorRegistry
from queue_audit import CAMPUS, PSEUDONYMS, WINDOW, percentile, seed
from shouwang_casework.adapters.db import campus_transaction
from shouwang_casework.adapters.queue import QueueFilter
from shouwang_casework.service_layer import views
from shouwang_casework.service_layer.access import Caller
from shouwang_contracts.auth import TokenVerifier, mint_token
from shouwang_contracts.vocabulary import Role
from shouwang_servicekit.app import service_app
from shouwang_servicekit.edge import HttpMetrics
from shouwang_servicekit.ops import ReadinessCheck
from shouwang_servicekit.ratelimits import PersonLimits, RateLimiter
from shouwang_servicekit.security import CurrentPrincipal
from shouwang_servicekit.sharedlimits import SharedCounter
from stack import casework_database

SECRET = "bench-jwt-secret-0123456789abcdef0123"  # noqa: S105 - a bench's own
KEY = b"bench-pseudonym-key-0123456789abcdef"
PLENTY = 10_000_000  # a limit nobody reaches here: the cost of counting, never a refusal


@dataclass
class Variant:
    name: str
    rates: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    failures: int = 0


class Pool:
    """The container: casework's pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    def readiness(self) -> Mapping[str, ReadinessCheck]:
        return {}

    async def close(self) -> None:
        pass


def queue_app(dsn: str, cases: int, shared: bool) -> FastAPI:
    """The queue read behind the kit's edge, limited per person (shared or not)."""
    router = APIRouter(prefix="/v1")

    @router.get("/cases")
    async def cases_page(request: Request, principal: CurrentPrincipal) -> dict[str, int]:
        pool: asyncpg.Pool = request.app.state.container.pool
        async with campus_transaction(pool, CAMPUS) as conn:
            rows, total = await views.queue(
                conn,
                Caller.of(principal, PSEUDONYMS),
                QueueFilter(limit=cases),
                mine=False,
                audit_window=WINDOW,
            )
        return {"shown": len(rows), "total": total}

    async def bootstrap() -> Pool:
        return Pool(await asyncpg.create_pool(dsn, min_size=4, max_size=8))

    registry = CollectorRegistry()
    limits = PersonLimits(
        RateLimiter(PLENTY, 60, burst=PLENTY),
        RateLimiter(PLENTY, 3600, burst=PLENTY),
        SharedCounter(dsn, key=KEY) if shared else None,
    )
    app = service_app(
        title="bench",
        description="bench",
        bootstrap=bootstrap,
        token_verifier=TokenVerifier(secret=SECRET),
        routers=[router],
        registry=registry,
        http_metrics=HttpMetrics.register("bench", registry),
        body_limit=64 * 1024,
        person_limits=limits,
        audited_reads=["GET /v1/cases"],
    )
    app.state.limits = limits
    return app


async def run_variant(app: FastAPI, variant: Variant, requests: int, clients: int) -> None:
    """`clients` people read the queue flat out until `requests` reads are answered."""
    transport = httpx.ASGITransport(app=app)
    latencies: list[float] = []
    left = requests

    async def person() -> None:
        nonlocal left
        sub = f"T{uuid.uuid4().hex[:8]}"
        token = mint_token(SECRET, sub=sub, role=Role.COUNSELING_CENTER, campus_id=CAMPUS)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            while left > 0:
                left -= 1
                started = time.perf_counter()
                answer = await client.get("/v1/cases", headers=headers)
                latencies.append(time.perf_counter() - started)
                if answer.status_code != 200:
                    raise SystemExit(f"{variant.name}: {answer.status_code} {answer.text[:200]}")

    started = time.perf_counter()
    await asyncio.gather(*(person() for _ in range(clients)))
    variant.rates.append(requests / (time.perf_counter() - started))
    variant.seconds.extend(latencies)


async def measure(dsn: str, args: argparse.Namespace) -> list[Variant]:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    try:
        await seed(pool, args.cases)
    finally:
        await pool.close()
    apps = {
        "per-process": queue_app(dsn, args.cases, shared=False),
        "shared": queue_app(dsn, args.cases, shared=True),
    }
    variants = [Variant(name) for name in apps]
    for app in apps.values():  # warm up: statements prepared, pools filled
        async with app.router.lifespan_context(app):
            await run_variant(app, Variant("warm-up"), 50, args.clients)
    for round_ in range(args.rounds):
        order = variants if round_ % 2 == 0 else variants[::-1]
        for variant in order:
            app = apps[variant.name]
            async with app.router.lifespan_context(app):
                await run_variant(app, variant, args.requests, args.clients)
    # A request whose count did not answer in time was limited per process instead (and the
    # counter left alone for 5 s): said beside the figures, which it flatters.
    variants[1].failures = apps["shared"].state.limits.shared.failures
    return variants


def report(variants: list[Variant], args: argparse.Namespace) -> None:
    print(
        f"casework's queue ({args.cases} cases a page), {args.clients} people reading flat out,"
        f" {args.requests} reads per round, {args.rounds} rounds"
    )
    print(f"{'':12}{'reads/s':>10}{'p50 ms':>9}{'p95 ms':>9}")
    for v in variants:
        print(
            f"{v.name:12}{statistics.median(v.rates):>10.0f}"
            f"{statistics.median(v.seconds) * 1000:>9.2f}"
            f"{percentile(v.seconds, 0.95) * 1000:>9.2f}"
        )
    local, shared = variants
    print(
        f"ratio shared/per-process: reads/s"
        f" {statistics.median(shared.rates) / statistics.median(local.rates):.2f},"
        f" p50 latency {statistics.median(shared.seconds) / statistics.median(local.seconds):.2f},"
        f" p95 latency"
        f" {percentile(shared.seconds, 0.95) / percentile(local.seconds, 0.95):.2f}"
    )
    print(f"shared counter unanswered (fell back to the local limit): {shared.failures} times")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with casework_database() as dsn:
        variants = asyncio.run(measure(dsn, args))
    report(variants, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
