"""What a failed end-to-end run says about itself: warnings per service, dead letters, lag."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from shouwang_devstack.diagnosis import (
    diagnose,
    diagnose_processes,
    last_lines,
    warnings_by_service,
)
from shouwang_devstack.services import ServiceProcess

UP_OUTPUT = """\
[devstack] triage: starting on http://127.0.0.1:1 (log /x/triage.log)
triage   | 09:19:17,511 INFO    Started server process [3516]  (uvicorn.error)
triage   | 09:20:01,000 WARNING alert a1 re-alerted college_leader  (shouwang.triage.scheduler)
casework | 09:20:02,000 ERROR   batch failed; retrying  (shouwang.casework)  exc_info=Traceback
  File "consumers.py", line 1, in apply
notify   | 09:20:03,000 INFO    sent  (shouwang.notify)
triage   | 09:20:04,000 WARNING alert a2 missed the top of the ladder's deadline  (x)
[devstack] casework: down (log /x/casework.log)
"""


def test_each_service_s_warnings_and_errors_are_kept_and_its_chatter_left_out() -> None:
    tails = warnings_by_service(UP_OUTPUT, per_service=1)
    assert set(tails) == {"casework", "devstack", "triage"}  # notify only said INFO
    assert tails["triage"] == [UP_OUTPUT.splitlines()[6]]  # the last one, per_service=1
    assert tails["casework"][0].startswith("casework | 09:20:02,000 ERROR   batch failed")
    assert tails["devstack"] == ["[devstack] casework: down (log /x/casework.log)"]


def test_a_service_s_errors_are_not_pushed_out_by_its_warnings() -> None:
    error = "triage   | 09:20:00,000 ERROR   grading failed  (shouwang.triage)"
    chatter = [f"triage   | 09:20:0{n},000 WARNING alert a{n} escalated  (x)" for n in range(1, 9)]
    tails = warnings_by_service("\n".join([error, *chatter]), per_service=3)
    assert tails["triage"] == [error, *chatter[-3:]]


async def _dead_letters_and_a_lagging_group(bootstrap: str) -> tuple[str, str, str]:
    suffix = uuid.uuid4().hex[:8]
    dead, work, group = f"shouwang.test-{suffix}.dlq", f"shouwang.test-{suffix}", f"g-{suffix}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, 1, 1) for t in (dead, work)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for topic, count in ((dead, 2), (work, 3)):
            for _ in range(count):
                await producer.send_and_wait(topic, b"{}")
    finally:
        await producer.stop()
    # A consumer that committed the start of its topic and then stopped taking anything.
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign([TopicPartition(work, 0)])
        await consumer.commit({TopicPartition(work, 0): 0})
    finally:
        await consumer.stop()
    return dead, work, group


@pytest.mark.integration
def test_the_diagnosis_counts_dead_letters_and_names_the_group_that_stopped(
    kafka_bootstrap: str,
) -> None:
    dead, work, group = asyncio.run(_dead_letters_and_a_lagging_group(kafka_bootstrap))
    text = diagnose(UP_OUTPUT, kafka_bootstrap)
    assert f"{dead} 2" in text
    assert f"consumer lag: {group}: {work} 3" in text
    assert "alert a2 missed the top of the ladder's deadline" in text


def test_an_unreachable_broker_is_said_and_the_rest_still_shown() -> None:
    text = diagnose(UP_OUTPUT, "127.0.0.1:9", {})
    assert "Kafka at 127.0.0.1:9 could not be read" in text
    assert "casework: down" in text


@pytest.mark.integration
async def test_the_diagnosis_reads_kafka_from_inside_a_running_event_loop(
    kafka_bootstrap: str,
) -> None:
    """An async test builds its assertion message while its loop runs."""
    dead, work, group = await _dead_letters_and_a_lagging_group(kafka_bootstrap)
    text = diagnose(UP_OUTPUT, kafka_bootstrap)
    assert f"{dead} 2" in text, text
    assert f"consumer lag: {group}: {work} 3" in text, text


def _record(level: str, message: str, logger: str = "shouwang.triage") -> str:
    return json.dumps(
        {"time": "2026-12-07 10:12:37,546", "level": level, "logger": logger, "message": message}
    )


def _process_with_log(tmp_path: Path, name: str, lines: list[str]) -> ServiceProcess:
    log = tmp_path / f"{name}.log"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ServiceProcess(name, log_path=log)


def test_a_service_process_s_own_log_gives_its_warnings_and_its_last_lines(
    tmp_path: Path,
) -> None:
    triage = _process_with_log(
        tmp_path,
        "triage",
        [
            _record("INFO", "Started server process [1]", "uvicorn.error"),
            _record("ERROR", "grading failed; retrying"),
            _record("INFO", "Waiting for background tasks to complete.", "uvicorn.error"),
            "a line that is not JSON",
        ],
    )
    notify = _process_with_log(tmp_path, "notify", [_record("INFO", "sent")])
    text = diagnose_processes({"triage": triage, "notify": notify}, "127.0.0.1:9", {})
    assert "triage   | 10:12:37,546 ERROR   grading failed; retrying  (shouwang.triage)" in text
    assert "notify:" not in text  # it said nothing worth seeing
    assert "Kafka at 127.0.0.1:9 could not be read" in text
    tail = last_lines(triage, lines=2)
    assert tail.splitlines() == [
        "triage   | 10:12:37,546 INFO    Waiting for background tasks to complete.  (uvicorn.error)",
        "triage   | a line that is not JSON",
    ]
