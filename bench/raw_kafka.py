"""Raw Kafka on the bench's machine: what the broker, and the client intake publishes with, take
without HTTP (DESIGN.md §4: throughput is measured against raw Kafka on the same machine).

Both measurements produce with intake's durability (acks=all, the idempotent producer) and its
linger, to a scratch topic created like the reports topic (partitions, min.insync.replicas) and
deleted afterwards, with records intake itself published (read back from the reports topic):

- **Kafka's producer benchmark** (`ProducerPerformance`, the class behind Kafka's
  `kafka-producer-perf-test.sh`, run from the Maven jars): the Java client sends as fast as the
  broker takes (open loop). That is the broker's capacity on this machine.
- **aiokafka alone**, in this process: `concurrency` senders, each waiting for its record's
  acknowledgement before sending the next, like the HTTP clients wait for each 202. That is the
  ceiling of the client intake publishes with, at the bench's concurrency, and its CPU time per
  record.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from shouwang_contracts.events.intake import ReportSubmitted
from shouwang_contracts.topics import TOPICS
from shouwang_devstack.kafka import kafka_tool_command
from shouwang_devstack.topics import create_topics, declared_partitions
from shouwang_servicekit.kafka.clients import DURABLE_PRODUCER

PRODUCER_PERFORMANCE = "org.apache.kafka.tools.ProducerPerformance"
# The CloudEvents header intake sets on each report's record.
_INTAKES_TYPE = ("ce_type", ReportSubmitted.EVENT_TYPE.encode())
# ProducerPerformance's closing summary, e.g. "200000 records sent, 43506.6 records/sec (29.04
# MB/sec), 643.60 ms avg latency, 923.00 ms max latency, 723 ms 50th, 861 ms 95th, 879 ms 99th,
# 914 ms 99.9th."
_SUMMARY = re.compile(
    r"^(?P<sent>\d+) records sent, (?P<rate>[\d.]+) records/sec \((?P<mb>[\d.]+) MB/sec\),"
    r" (?P<avg>[\d.]+) ms avg latency, (?P<max>[\d.]+) ms max latency, (?P<p50>\d+) ms 50th,"
    r" (?P<p95>\d+) ms 95th, (?P<p99>\d+) ms 99th, (?P<p999>\d+) ms 99.9th\.$",
    re.MULTILINE,
)


@dataclass(frozen=True)
class Record:
    key: bytes | None
    value: bytes


@dataclass(frozen=True)
class BrokerFigures:
    """ProducerPerformance's summary."""

    sent: int
    rate: float
    p50_ms: float
    p99_ms: float


@dataclass(frozen=True)
class ClientFigures:
    """aiokafka's closed loop: acknowledged records per second and CPU time per record."""

    rate: float
    cpu_ms: float
    errors: int


def parse_summary(stdout: str) -> BrokerFigures:
    """The figures of ProducerPerformance's last summary line, or a clear error."""
    matches = list(_SUMMARY.finditer(stdout))
    if not matches:
        raise RuntimeError(f"ProducerPerformance printed no summary:\n{stdout[-2000:]}")
    last = matches[-1]
    return BrokerFigures(
        int(last["sent"]), float(last["rate"]), float(last["p50"]), float(last["p99"])
    )


async def intake_records(bootstrap: str, count: int, *, within: float = 10.0) -> list[Record]:
    """Up to `count` of the reports intake published, from the start of the reports topic to
    its end when asked (fewer when the topic holds fewer: a short run's). `within` bounds the
    read."""
    topic = TOPICS["reports"].name
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = declared_partitions(topic)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[Record] = []
        deadline = time.monotonic() + within

        async def behind() -> bool:
            for partition in partitions:
                if await consumer.position(partition) < ends[partition]:
                    return True
            return False

        while len(records) < count and time.monotonic() < deadline and await behind():
            batches = await consumer.getmany(timeout_ms=500, max_records=count - len(records))
            records += [
                Record(r.key, r.value)
                for rs in batches.values()
                for r in rs
                if r.value and _INTAKES_TYPE in r.headers  # the floor app writes here too
            ]
        if not records:
            raise RuntimeError(f"no record of intake's on {topic} to replay")
        return records
    finally:
        await consumer.stop()


@asynccontextmanager
async def scratch_topic(bootstrap: str) -> AsyncIterator[str]:
    """A topic configured like the reports topic, for this measurement only."""
    spec = dataclasses.replace(
        TOPICS["reports"], key="bench-raw-kafka", name=f"bench.raw-kafka.{uuid.uuid4().hex[:12]}"
    )
    await create_topics(bootstrap, [spec])
    try:
        yield spec.name
    finally:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.delete_topics([spec.name])
        finally:
            await admin.close()


def producer_performance(
    bootstrap: str, topic: str, records: Sequence[Record], *, count: int, linger_ms: int
) -> BrokerFigures:
    """Kafka's own producer benchmark, sending `count` of these values as fast as it can."""
    values = [r.value for r in records]
    if any(b"\n" in v for v in values):
        raise ValueError("a record value holds a newline, ProducerPerformance's delimiter")
    with tempfile.TemporaryDirectory(prefix="shouwang-raw-kafka-") as folder:
        payloads = Path(folder) / "payloads.txt"
        payloads.write_bytes(b"\n".join(values))
        done = subprocess.run(
            kafka_tool_command(
                PRODUCER_PERFORMANCE,
                "--topic",
                topic,
                "--num-records",
                str(count),
                "--throughput",
                "-1",
                "--payload-file",
                str(payloads),
                "--producer-props",
                f"bootstrap.servers={bootstrap}",
                "acks=all",
                "enable.idempotence=true",
                f"linger.ms={linger_ms}",
            ),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(
            f"ProducerPerformance exited {done.returncode}:\n{(done.stdout + done.stderr)[-3000:]}"
        )
    return parse_summary(done.stdout)


def unacknowledged(figures: BrokerFigures, requested: int) -> int:
    """Records ProducerPerformance was asked for and did not count as sent (its summary counts
    acknowledged sends only; failures go to its stderr)."""
    return max(requested - figures.sent, 0)


async def aiokafka_closed_loop(
    bootstrap: str,
    topic: str,
    records: Sequence[Record],
    *,
    seconds: float,
    concurrency: int,
    linger_ms: int,
) -> ClientFigures:
    """`concurrency` senders, each awaiting its acknowledgement before its next record."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=linger_ms, **DURABLE_PRODUCER
    )
    await producer.start()
    acknowledged = errors = 0

    async def sender(start: int, until: float) -> None:
        nonlocal acknowledged, errors
        i = start
        while time.perf_counter() < until:
            record = records[i % len(records)]
            i += concurrency
            try:
                await (await producer.send(topic, record.value, key=record.key))
                acknowledged += 1
            except Exception:
                errors += 1

    try:
        warm = time.perf_counter() + min(1.0, seconds / 2)
        await asyncio.gather(*(sender(k, warm) for k in range(concurrency)))
        acknowledged = errors = 0
        started, cpu = time.perf_counter(), time.process_time()
        until = started + seconds
        await asyncio.gather(*(sender(k, until) for k in range(concurrency)))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        await producer.stop()
    return ClientFigures(acknowledged / elapsed, cpu / max(acknowledged, 1) * 1000, errors)
