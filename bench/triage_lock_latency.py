"""What triage's student locks cost a report's grading transaction and a census batch.

    uv run python bench/triage_lock_latency.py [--reports 400] [--rounds 3] [--census 200]
        [--students 200]

Since 2026-12-07 every grading transaction takes its students' locks in a statement of its own
before it reads them (`BatchStore.lock_students`), so a report that waited for a census batch
reads what the census committed: one more round trip. On a fresh triage database of the
benchmark's PostgreSQL (migrated, as the runtime role), per round, in an order rotated from
round to round:

- **baseline**: grading as before, the lock statement skipped (`BatchStore` with
  `lock_students` a no-op);
- **locked**: as shipped.

Each round grades `--reports` tier reports per mode, one transaction each, the modes taking
turns report by report (each about a student of a pool of `--students` who has evidence, a
grade and an open alert), as the reports consumer does, timed from the transaction's start to its
commit; then three census batches per mode, taking turns, of `--census` PHQ-9 rows of other
students. Prints each mode's p50 / p99 per report and the
census batch's time, and the ratio locked / baseline (median of the rounds' ratios).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from shouwang_contracts.topics import CENSUS, REPORTS
from shouwang_devstack.localenv import tests_role_secret
from shouwang_devstack.provision import provision_fresh
from shouwang_triage.adapters.batch import BatchStore
from shouwang_triage.adapters.policy_file import load_policy
from shouwang_triage.adapters.repository import QuietConnection
from shouwang_triage.domain.evidence import ReportEvidence, ScreeningEvidence
from shouwang_triage.domain.policy import GradingPolicy
from shouwang_triage.service_layer.grading import GradingInput, grade_inputs

sys.path.insert(0, str(Path(__file__).parent))
from stack import bench_postgres

CAMPUS = "bench"
SIGNALS = ["persistent_low_mood", "sleep_disturbance", "social_withdrawal"]


class Unlocked(BatchStore):
    """Grading as before the student locks: the read is the transaction's first statement."""

    async def lock_students(self, campuses: list[str], students: list[str]) -> None:
        return None


MODES: dict[str, type[BatchStore]] = {"baseline": Unlocked, "locked": BatchStore}


def report(student: str) -> GradingInput:
    now = datetime.now(UTC)
    evidence = ReportEvidence(
        str(uuid.uuid4()), "reporter", "dorm_leader", frozenset(SIGNALS), now, now
    )
    return GradingInput(str(uuid.uuid4()), REPORTS, CAMPUS, student, None, evidence, "urgent")


def sheet(student: str) -> GradingInput:
    now = datetime.now(UTC)
    items = (1, 1, 0, 1, 0, 0, 1, 0, 0)
    evidence = ScreeningEvidence(str(uuid.uuid4()), "phq9", items, now, now)
    return GradingInput(str(uuid.uuid4()), CENSUS, CAMPUS, student, None, evidence, "bulk")


async def grade(
    pool: asyncpg.Pool, store: type[BatchStore], policy: GradingPolicy, items: list[GradingInput]
) -> float:
    started = time.perf_counter()
    async with pool.acquire() as conn, conn.transaction():
        await grade_inputs(store(conn), policy, items, datetime.now(UTC))
    return time.perf_counter() - started


async def run(dsn: str, reports: int, rounds: int, census: int, pool_size: int = 200) -> None:
    policy = load_policy()
    pool = await asyncpg.create_pool(dsn, min_size=2, max_size=2, connection_class=QuietConnection)
    students = [f"s-{i:04d}" for i in range(pool_size)]
    for student in students:  # warm: each has evidence, a grade and an open alert
        await grade(pool, BatchStore, policy, [report(student)])
    per_report: dict[str, list[float]] = {m: [] for m in MODES}
    per_census: dict[str, list[float]] = {m: [] for m in MODES}
    ratios: list[float] = []
    census_ratios: list[float] = []
    names = list(MODES)
    for r in range(rounds):
        order = names[r % 2 :] + names[: r % 2]
        medians: dict[str, float] = {}
        batches: dict[str, float] = {}
        # Alternating transaction by transaction, so the machine's drift hits both alike.
        times: dict[str, list[float]] = {m: [] for m in MODES}
        for i in range(reports):
            for mode in order:
                student = students[i % len(students)]
                times[mode].append(await grade(pool, MODES[mode], policy, [report(student)]))
        census_times: dict[str, list[float]] = {m: [] for m in MODES}
        for _ in range(3):
            for mode in order:
                others = [sheet(f"c-{uuid.uuid4().hex[:10]}") for _ in range(census)]
                census_times[mode].append(await grade(pool, MODES[mode], policy, others))
        for mode in order:
            per_report[mode] += times[mode]
            medians[mode] = statistics.median(times[mode])
            batches[mode] = statistics.median(census_times[mode])
            per_census[mode] += census_times[mode]
        ratios.append(medians["locked"] / medians["baseline"])
        census_ratios.append(batches["locked"] / batches["baseline"])
        print(
            f"round {r + 1}: report p50 baseline {medians['baseline'] * 1e3:.2f} ms,"
            f" locked {medians['locked'] * 1e3:.2f} ms; census batch baseline"
            f" {batches['baseline'] * 1e3:.1f} ms, locked {batches['locked'] * 1e3:.1f} ms",
            flush=True,
        )
    await pool.close()
    print(f"\n{reports} reports x {rounds} rounds, census batches of {census} rows:")
    for mode in names:
        ordered = sorted(per_report[mode])
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        print(
            f"  {mode:8s} report p50 {statistics.median(ordered) * 1e3:6.2f} ms"
            f"  p99 {p99 * 1e3:6.2f} ms   census batch median"
            f" {statistics.median(per_census[mode]) * 1e3:7.1f} ms"
        )
    print(
        f"  locked / baseline: report p50 {statistics.median(ratios):.2f}x"
        f" (rounds {min(ratios):.2f}-{max(ratios):.2f}),"
        f" census batch {statistics.median(census_ratios):.2f}x"
        f" (rounds {min(census_ratios):.2f}-{max(census_ratios):.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--census", type=int, default=200)
    parser.add_argument("--students", type=int, default=200, help="the reported students' pool")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="shouwang-bench-") as workdir,
        bench_postgres(Path(workdir)) as admin_dsn,
    ):
        dsn = provision_fresh(admin_dsn, "triage", secret=tests_role_secret(admin_dsn))
        asyncio.run(run(dsn, args.reports, args.rounds, args.census, args.students))


if __name__ == "__main__":
    main()
