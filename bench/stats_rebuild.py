"""Rebuilding stats' projection from the topics, beside a raw aiokafka read of the same records.

    uv run python bench/stats_rebuild.py [--events 1000000] [--rounds 2]

Publishes `--events` public events (the stats tests' seed year, one campus per year, as
many years as it takes: directory entries, assessments, alerts and escalations, case,
referral and follow-up events) to the topics stats replays. Then, in rounds, one after the
other on the same machine:

- **raw**: a bare aiokafka consumer (no group, the rebuild's fetch sizes) reads every
  partition of those topics from the beginning to its end, touching nothing: what the client
  alone costs;
- **rebuild**: `shouwang-stats-rebuild` in its own process replays the same records into a
  fresh generation of a stats database and swaps it in (decode and validate each event,
  fold it, COPY the rows, catch up, swap), and reports the memory it peaked at.

Prints each round's records/s, the ratio rebuild/raw per round (aim: at least 0.5) and the
rebuild's peak resident memory. Figures belong in bench/README.md, never in a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition
from shouwang_devstack.provision import provision_fresh
from shouwang_servicekit.kafka.clients import DURABLE_PRODUCER
from shouwang_stats.service_layer.events import TOPICS
from stack import bench_stack

# The stats tests' seed year is the unit of load: realistic in mix and in order.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services" / "stats" / "tests"))
from stats_seed_year import seed_year  # type: ignore[import-not-found]


@dataclass(frozen=True)
class Round:
    raw_rate: float
    rebuild_rate: float
    records: int
    rebuild_seconds: float
    peak_rss_mib: float

    @property
    def ratio(self) -> float:
        return self.rebuild_rate / self.raw_rate


async def publish(bootstrap: str, events: int) -> tuple[int, float]:
    """Publish at least `events` events, a seed year at a time; returns (published, seconds)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        linger_ms=20,
        max_batch_size=512 * 1024,
        **DURABLE_PRODUCER,
    )
    await producer.start()
    began = time.perf_counter()
    published = 0
    try:
        while published < events:
            pending = []
            for envelope in seed_year().events:
                pending.append(
                    await producer.send(
                        envelope.topic,
                        envelope.to_bytes(),
                        key=envelope.key,
                        headers=envelope.kafka_headers(),
                    )
                )
            await asyncio.gather(*pending)
            published += len(pending)
    finally:
        await producer.stop()
    return published, time.perf_counter() - began


async def partitions(bootstrap: str) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(list(TOPICS))
    finally:
        await admin.close()
    return [TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]]


async def raw_read(bootstrap: str) -> tuple[int, float]:
    """Every record of the topics, read and dropped: (records, seconds)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    try:
        tps = await partitions(bootstrap)
        ends = await consumer.end_offsets(tps)
        consumer.assign(tps)
        began = time.perf_counter()
        await consumer.seek_to_beginning(*tps)
        pending = {tp for tp in tps if await consumer.position(tp) < ends[tp]}
        records = 0
        while pending:
            fetched = await consumer.getmany(*pending, timeout_ms=1000, max_records=10_000)
            for tp, batch in fetched.items():
                records += sum(1 for r in batch if r.offset < ends[tp])
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
        return records, time.perf_counter() - began
    finally:
        await consumer.stop()


def rebuild(bootstrap: str, database_url: str) -> dict[str, Any]:
    """`shouwang-stats-rebuild` in its own process; its JSON summary."""
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "STATS_DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
    }
    done = subprocess.run(
        [sys.executable, "-m", "shouwang_stats.entrypoints.cli"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"the rebuild failed ({done.returncode}):\n{done.stderr[-4000:]}")
    summary: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with bench_stack() as stack:
        published, seconds = asyncio.run(publish(stack.bootstrap, args.events))
        print(f"published {published} events in {seconds:.1f} s ({published / seconds:,.0f}/s)")
        database_url = provision_fresh(
            stack.admin_dsn, "stats", secret=stack.secrets["SHOUWANG_DB_ROLE_SECRET"]
        )
        rounds = []
        for number in range(1, args.rounds + 1):
            records, raw_seconds = asyncio.run(raw_read(stack.bootstrap))
            summary = rebuild(stack.bootstrap, database_url)
            done = Round(
                raw_rate=records / raw_seconds,
                rebuild_rate=summary["records"] / summary["seconds"],
                records=int(summary["records"]),
                rebuild_seconds=summary["seconds"],
                peak_rss_mib=summary["peak_rss_mib"],
            )
            rounds.append(done)
            print(
                f"round {number}: raw {records} records in {raw_seconds:.1f} s"
                f" ({done.raw_rate:,.0f}/s); rebuild {done.records} records in"
                f" {done.rebuild_seconds:.1f} s ({done.rebuild_rate:,.0f}/s, {summary['rows']:.0f}"
                f" rows, {summary['skipped']:.0f} skipped; replay {summary['phases']['replay']:.1f} s,"
                f" copy {summary['phases']['copy']:.1f} s, catch-up"
                f" {summary['phases']['catch_up']:.1f} s), peak {done.peak_rss_mib:.0f} MiB;"
                f" ratio {done.ratio:.2f}"
            )
    ratios = [r.ratio for r in rounds]
    print()
    print(f"{'':28}{'records/s':>12}{'range':>22}")
    for name, rates in (
        ("raw aiokafka read", [r.raw_rate for r in rounds]),
        ("stats rebuild", [r.rebuild_rate for r in rounds]),
    ):
        print(
            f"{name:28}{statistics.median(rates):>12,.0f}"
            f"{f'{min(rates):,.0f}-{max(rates):,.0f}':>22}"
        )
    print(
        f"ratio rebuild/raw (records/s, per round): {statistics.median(ratios):.2f}"
        f" ({min(ratios):.2f}-{max(ratios):.2f}); aim >= 0.5"
    )
    print(
        f"rebuild peak resident memory: {max(r.peak_rss_mib for r in rounds):.0f} MiB"
        f" (bench process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
