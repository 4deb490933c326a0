"""Notify's cases consumer and an erasure on request, in memory: the erasure is read off the
cases topic, and a malformed one goes to the dead-letter topic with its reason."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events import StudentErased
from shouwang_contracts.topics import CASES, dead_letter_topic
from shouwang_notify.entrypoints.consumers import decode_case_event
from shouwang_notify.entrypoints.kafka import register_consumers


def test_the_cases_topic_yields_an_erasure() -> None:
    envelope = Envelope.wrap(
        StudentErased(student_ref="stu_1", erased_at=datetime.now(UTC)),
        source="/shouwang/casework",
        campus_id="c1",
        subject="stu_1",
    )
    decoded = decode_case_event(SimpleNamespace(value=envelope.to_bytes(), headers=[]))
    assert decoded is not None
    assert decoded.data == envelope.data
    assert decoded.data.cases == 0  # optional, defaulted


async def test_a_malformed_erasure_is_dead_lettered_with_its_reason() -> None:
    broker = KafkaBroker()
    # The poison path never reaches the database.
    notify: Any = SimpleNamespace(
        broker=broker,
        settings=SimpleNamespace(group_prefix="unit", alert_batch=10, case_event_batch=10),
    )
    register_consumers(notify)
    dead: list[dict[str, Any]] = []

    @broker.subscriber(dead_letter_topic(CASES))
    async def on_dead_letter(message: KafkaMessage) -> None:
        dead.append(dict(message.headers))

    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(
            b'{"id": "x", "type": "shouwang.student.erased", "data": {"student_ref": 1}}', CASES
        )

    [headers] = dead
    assert headers["x-dlq-source-topic"] == CASES
    assert headers["x-dlq-reason"].startswith("not a valid shouwang.student.erased")


async def test_a_malformed_staff_listing_is_dead_lettered_not_dropped() -> None:
    """A leaving that breaks its contract must be seen: contacts would otherwise outlive it."""
    broker = KafkaBroker()
    notify: Any = SimpleNamespace(
        broker=broker,
        settings=SimpleNamespace(group_prefix="unit", alert_batch=10, case_event_batch=10),
    )
    register_consumers(notify)
    dead: list[dict[str, Any]] = []

    @broker.subscriber(dead_letter_topic(CASES))
    async def on_dead_letter(message: KafkaMessage) -> None:
        dead.append(dict(message.headers))

    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(
            b'{"id": "x", "type": "shouwang.staff.listing_changed", "data": {"listed": "no"}}',
            CASES,
        )

    [headers] = dead
    assert headers["x-dlq-reason"].startswith("not a valid shouwang.staff.listing_changed")
