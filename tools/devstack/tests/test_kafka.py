"""The session broker is a real Kafka: topics exist, records go round; the broker tests may stop
survives a restart and a kill."""

from __future__ import annotations

import asyncio
import stat
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError
from shouwang_contracts.topics import all_topics
from shouwang_devstack import kafka_jars
from shouwang_devstack.kafka import LocalKafka, kafka_tool_command, new_cluster_id
from shouwang_devstack.kafka_jars import ensure_kafka_jars
from shouwang_devstack.services import ServiceProcess

pytestmark = pytest.mark.integration


async def _fresh_topic(bootstrap: str) -> str:
    name = f"devstack.selftest.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    return name


async def _produce(bootstrap: str, topic: str, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=b"k")
    finally:
        await producer.stop()


async def _consume_all(bootstrap: str, topic: str, expected: int) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"selftest-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    values: list[bytes] = []
    try:
        for _ in range(30):
            batch = await consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                values.extend(r.value for r in records if r.value is not None)
            if len(values) >= expected:
                break
    finally:
        await consumer.stop()
    return values


def test_cluster_id_looks_like_kafkas() -> None:
    cid = new_cluster_id()
    assert len(cid) == 22
    assert not cid.startswith("-")


def _fake_maven(tmp_path: Path, calls: Path) -> Path:
    """An `mvn` that notes each call and "copies" one jar named after the pom's version."""
    mvn = tmp_path / "bin" / "mvn"
    mvn.parent.mkdir()
    mvn.write_text(
        "#!/bin/sh\n"
        f'echo called >> "{calls}"\n'
        'for arg in "$@"; do case "$arg" in -DoutputDirectory=*) out="${arg#*=}";; esac; done\n'
        'version=$(sed -n "s:.*<kafka.version>\\(.*\\)</kafka.version>.*:\\1:p" pom.xml)\n'
        'mkdir -p "$out" && touch "$out/kafka_2.13-$version.jar"\n'
    )
    mvn.chmod(mvn.stat().st_mode | stat.S_IEXEC)
    return mvn


def test_jars_are_resolved_again_when_the_pom_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bumped Kafka pin must not leave the old jars running: the cache is keyed on the pom."""
    root = tmp_path / "repo"
    pom = root / "deploy" / "local" / "pom.xml"
    pom.parent.mkdir(parents=True)
    pom.write_text("<project><kafka.version>4.1.1</kafka.version></project>\n")
    calls = tmp_path / "calls"
    mvn = _fake_maven(tmp_path, calls)
    monkeypatch.setattr(kafka_jars.shutil, "which", lambda name: str(mvn))

    libs = ensure_kafka_jars(root)
    ensure_kafka_jars(root)
    assert calls.read_text().count("called") == 1, "an unchanged pom resolves once"
    assert [p.name for p in libs.glob("*.jar")] == ["kafka_2.13-4.1.1.jar"]

    pom.write_text("<project><kafka.version>4.2.0</kafka.version></project>\n")
    ensure_kafka_jars(root)
    assert calls.read_text().count("called") == 2
    assert [p.name for p in libs.glob("*.jar")] == ["kafka_2.13-4.2.0.jar"], "old jars removed"


async def test_kafkas_producer_benchmark_runs_from_the_resolved_jars(
    kafka_bootstrap: str,
) -> None:
    """The pom resolves what Kafka's tools need (the bench's raw-Kafka figure runs one)."""
    topic = await _fresh_topic(kafka_bootstrap)
    argv = kafka_tool_command(
        "org.apache.kafka.tools.ProducerPerformance",
        "--topic",
        topic,
        "--num-records",
        "300",
        "--record-size",
        "100",
        "--throughput",
        "-1",
        "--producer-props",
        f"bootstrap.servers={kafka_bootstrap}",
        "acks=all",
    )
    done = await asyncio.to_thread(
        subprocess.run, argv, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "300 records sent" in done.stdout
    assert "INFO" not in done.stdout, "the tools' logging stays off their results"
    assert len(await _consume_all(kafka_bootstrap, topic, 300)) == 300


async def test_every_declared_topic_exists(kafka_bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        described = {t["topic"]: t for t in await admin.describe_topics()}
    finally:
        await admin.close()
    for spec in all_topics():
        assert spec.name in existing
        assert len(described[spec.name]["partitions"]) == spec.partitions


async def test_produced_record_is_consumed(kafka_bootstrap: str) -> None:
    topic = await _fresh_topic(kafka_bootstrap)
    payload = uuid.uuid4().bytes
    await _produce(kafka_bootstrap, topic, payload)
    assert await _consume_all(kafka_bootstrap, topic, 1) == [payload]


async def test_broker_restart_keeps_records(local_kafka: LocalKafka) -> None:
    bootstrap = local_kafka.bootstrap
    topic = await _fresh_topic(bootstrap)
    await _produce(bootstrap, topic, b"before")

    await local_kafka.stop_async()
    assert not local_kafka.is_running()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=2000)
    with pytest.raises(KafkaError):
        await producer.start()  # nothing answers: clients see the outage
    await producer.stop()

    await local_kafka.start_async()
    await _produce(bootstrap, topic, b"after")
    assert await _consume_all(bootstrap, topic, 2) == [b"before", b"after"]


async def test_broker_recovers_after_kill(local_kafka: LocalKafka) -> None:
    topic = await _fresh_topic(local_kafka.bootstrap)
    await _produce(local_kafka.bootstrap, topic, b"acked")
    local_kafka.kill()
    await local_kafka.start_async()
    assert await _consume_all(local_kafka.bootstrap, topic, 1) == [b"acked"]


async def test_the_stoppable_broker_has_every_declared_topic(local_kafka: LocalKafka) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=local_kafka.bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
    finally:
        await admin.close()
    assert {spec.name for spec in all_topics()} <= existing


def test_services_of_a_test_that_stops_the_broker_use_that_broker(
    local_kafka: LocalKafka, service_process: Callable[..., ServiceProcess]
) -> None:
    proc = service_process("intake")  # built, not started
    assert proc.env["KAFKA_BOOTSTRAP_SERVERS"] == local_kafka.bootstrap


async def test_provisioning_retires_the_directory_topic_that_kept_placements_in_the_clear(
    kafka_bootstrap: str,
) -> None:
    """shouwang.directory.v1 carried class, building, floor and room for ever (compacted):
    topic provisioning deletes it where it still exists."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from shouwang_contracts.topics import DIRECTORY, RETIRED_TOPICS
    from shouwang_devstack.topics import create_topics

    assert "shouwang.directory.v1" in RETIRED_TOPICS
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic("shouwang.directory.v1", 1, 1)])
        for _ in range(100):  # until the broker's metadata lists it
            if "shouwang.directory.v1" in set(await admin.list_topics()):
                break
            await asyncio.sleep(0.1)
        results = await create_topics(kafka_bootstrap)
        assert ("shouwang.directory.v1", "retired") in {(r.name, r.outcome) for r in results}
        for _ in range(100):  # the broker's metadata drops it after the controller did
            remaining = set(await admin.list_topics())
            if "shouwang.directory.v1" not in remaining:
                break
            await asyncio.sleep(0.1)
    finally:
        await admin.close()
    assert "shouwang.directory.v1" not in remaining
    assert DIRECTORY in remaining  # v2
