"""The live queue's audit: rows written and the read's latency, before and after coalescing.

    uv run python bench/queue_audit.py [--cases 100] [--refreshes 40] [--rounds 3]

A counselor's tab keeps the queue open and refreshes it every 15 s (web: `useLivePage`); every
refresh is a queue read of casework's service layer, in its own campus transaction, on real
PostgreSQL (started here, or the one named by `DATABASE_URL`) with a fresh migrated casework
database holding `--cases` open cases. Two readers take turns, refresh by refresh:

- **before**: main's queue read until this change (kept here as `queue_before`): the page,
  then one `record_access` per row (a `current_setting` and an INSERT each);
- **after**: `views.queue` as it is: the page, then one INSERT for the whole page, writing a
  row only for students this reader was not shown within the window (15 min).

Prints, per reader: audit rows written over the refreshes, INSERT statements, statements per
read, latency p50/p95 per read, and the after/before ratios. Refreshes take no 15 s here:
they come back to back, all within one window (an open tab's first ten minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import asyncpg
from shouwang_casework.adapters.audit import record_access
from shouwang_casework.adapters.db import campus_transaction
from shouwang_casework.adapters.queue import QueueFilter, QueueRow, list_queue
from shouwang_casework.service_layer import views
from shouwang_casework.service_layer.access import Caller, refuse_students, scope_grants
from shouwang_casework.service_layer.warnings import on_alert_raised, on_assessment
from shouwang_contracts.auth import Principal
from shouwang_contracts.crypto import NoteCipher, generate_key
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_contracts.vocabulary import Role
from stack import casework_database

sys.path.insert(0, str(Path(__file__).parent))
from triage_events import moderate_warning

CAMPUS = "bench"
WINDOW = timedelta(minutes=15)
CIPHER = NoteCipher.from_config(f"bench:{generate_key()}")
PSEUDONYMS = Pseudonymizer(b"bench-pseudonym-key-0123456789abcdef")


async def queue_before(
    conn: asyncpg.Connection, caller: Caller, query: QueueFilter
) -> tuple[list[QueueRow], int]:
    """The queue read before this change (main 1ff7ae0): one audit INSERT per row shown."""
    refuse_students(caller)
    grants = await scope_grants(conn, caller)
    rows, total = await list_queue(
        conn, campus_wide=caller.principal.campus_wide, grants=grants, query=query
    )
    for row in rows:
        await record_access(
            conn,
            principal_ref=caller.person_ref,
            role=caller.principal.role.value,
            student_ref=row.student_ref,
            action="case.queue.read",
        )
    return rows, total


async def queue_after(
    conn: asyncpg.Connection, caller: Caller, query: QueueFilter
) -> tuple[list[QueueRow], int]:
    return await views.queue(conn, caller, query, mine=False, audit_window=WINDOW)


Read = Callable[[asyncpg.Connection, Caller, QueueFilter], Awaitable[tuple[list[QueueRow], int]]]


@dataclass
class Reader:
    name: str
    read: Read
    caller: Caller
    seconds: list[float] = field(default_factory=list)
    statements: int = 0
    inserts: int = 0
    rows: int = 0


async def seed(pool: asyncpg.Pool, cases: int) -> None:
    for number in range(cases):
        graded, alert = moderate_warning(
            CAMPUS, PSEUDONYMS.student_ref(CAMPUS, f"2099{number:06d}")
        )
        async with campus_transaction(pool, CAMPUS) as conn:
            await on_assessment(conn, graded, CIPHER)
            await on_alert_raised(conn, alert, CIPHER)


async def refresh(pool: asyncpg.Pool, reader: Reader, cases: int) -> None:
    """One refresh of `reader`'s tab: the read in a campus transaction (as
    `campus_transaction` opens it), its statements logged, its audit rows counted."""
    statements: list[str] = []

    def logged(record: Any) -> None:
        statements.append(record.query)

    before = await count_rows(pool)
    async with pool.acquire() as proxy:
        conn = cast(asyncpg.Connection, proxy)  # the proxy forwards every method
        conn.add_query_logger(logged)
        try:
            started = time.perf_counter()
            async with conn.transaction():
                await conn.execute("SELECT set_config('shouwang.campus_id', $1, true)", CAMPUS)
                rows, _ = await reader.read(conn, reader.caller, QueueFilter(limit=cases))
            reader.seconds.append(time.perf_counter() - started)
        finally:
            conn.remove_query_logger(logged)
    if len(rows) != cases:
        raise SystemExit(f"{reader.name}: the queue showed {len(rows)} cases, not {cases}")
    reader.rows += await count_rows(pool) - before
    reader.statements += len(statements)
    reader.inserts += sum(1 for q in statements if q.lstrip().upper().startswith("INSERT"))


async def count_rows(pool: asyncpg.Pool) -> int:
    async with campus_transaction(pool, CAMPUS) as conn:
        return int(await conn.fetchval("SELECT count(*) FROM audit_log"))


async def measure(dsn: str, cases: int, refreshes: int, rounds: int) -> dict[str, Reader]:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    try:
        await seed(pool, cases)
        readers = {
            name: Reader(name, read, tab(name))
            for name, read in (("before", queue_before), ("after", queue_after))
        }
        for _ in range(rounds):
            for reader in readers.values():  # each round is a new person's tab
                reader.caller = tab(reader.name)
            for turn in range(refreshes):  # the two take turns, first one then the other
                order = list(readers.values())
                for reader in order if turn % 2 == 0 else order[::-1]:
                    await refresh(pool, reader, cases)
        return readers
    finally:
        await pool.close()


def tab(name: str) -> Caller:
    """A counseling-center reader (the whole campus in scope) of its own."""
    sub = f"bench-{name}-{uuid.uuid4().hex[:6]}"
    principal = Principal(sub=sub, role=Role.COUNSELING_CENTER, campus_id=CAMPUS)
    return Caller.of(principal, PSEUDONYMS)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def report(readers: dict[str, Reader], cases: int, refreshes: int, rounds: int) -> None:
    reads = refreshes * rounds
    print(
        f"{cases} cases on the page, {refreshes} refreshes per tab, {rounds} rounds"
        f" ({reads} reads per reader)"
    )
    print(
        f"{'':8}{'audit rows':>12}{'rows/read':>11}{'INSERTs/read':>14}{'stmts/read':>12}"
        f"{'p50 ms':>9}{'p95 ms':>9}"
    )
    for reader in readers.values():
        print(
            f"{reader.name:8}{reader.rows:>12}{reader.rows / reads:>11.1f}"
            f"{reader.inserts / reads:>14.1f}{reader.statements / reads:>12.1f}"
            f"{statistics.median(reader.seconds) * 1000:>9.2f}"
            f"{percentile(reader.seconds, 0.95) * 1000:>9.2f}"
        )
    before, after = readers["before"], readers["after"]
    print(
        f"ratio after/before: rows {after.rows / before.rows:.3f},"
        f" p50 latency {statistics.median(after.seconds) / statistics.median(before.seconds):.2f},"
        f" p95 latency {percentile(after.seconds, 0.95) / percentile(before.seconds, 0.95):.2f}"
    )
    print(
        f"one open tab, an hour of 15 s refreshes: before {cases * 240:,} rows,"
        f" after at most {cases * 4:,} (one per student per 15 min window)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100)
    parser.add_argument("--refreshes", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with casework_database() as dsn:
        readers = asyncio.run(measure(dsn, args.cases, args.refreshes, args.rounds))
    report(readers, args.cases, args.refreshes, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
