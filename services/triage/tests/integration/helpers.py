"""Publish inputs as intake and casework would, and watch what triage publishes, on real Kafka."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from shouwang_contracts.auth import Placement
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events.casework import AlertAcknowledged, StudentRouting
from shouwang_contracts.events.intake import ReportSubmitted
from shouwang_contracts.pseudonym import PlacementHasher
from shouwang_contracts.topics import ALERTS, ASSESSMENTS
from shouwang_contracts.vocabulary import ReportChannel, Role, Signal
from shouwang_devstack.topics import assign_at_end
from shouwang_servicekit.kafka.clients import DURABLE_PRODUCER


def report(
    campus_id: str,
    student_ref: str,
    signals: Iterable[str],
    *,
    reporter_ref: str = "reporter-1",
    role: Role = Role.DORM_LEADER,
    channel: ReportChannel = ReportChannel.OBSERVED,
) -> Envelope[ReportSubmitted]:
    now = datetime.now(UTC)
    payload = ReportSubmitted(
        report_id=str(uuid.uuid4()),
        student_ref=student_ref,
        reporter_ref=reporter_ref,
        reporter_role=role,
        signals=[Signal(s) for s in signals],
        observed_at=now - timedelta(minutes=5),
        received_at=now,
        channel=channel,
    )
    return Envelope.wrap(
        payload, source="/shouwang/intake", campus_id=campus_id, subject=student_ref
    )


def acknowledgement(campus_id: str, student_ref: str, alert_id: str) -> Envelope[AlertAcknowledged]:
    payload = AlertAcknowledged(
        alert_id=alert_id,
        student_ref=student_ref,
        acknowledged_by_ref="staff-1",
        acknowledged_by_role=Role.COMMUNITY_PSYCH_TEACHER,
        acknowledged_at=datetime.now(UTC),
    )
    return Envelope.wrap(
        payload, source="/shouwang/casework", campus_id=campus_id, subject=student_ref
    )


def directory_entry(
    campus_id: str, student_ref: str, building: str, placement_key: str
) -> Envelope[StudentRouting]:
    """The directory's word on a student of `building`, hashed with `placement_key`."""
    hasher = PlacementHasher(placement_key.encode())
    where = Placement(
        college="土木学院", class_name="建工2401", building=building, floor="3", room="302"
    )
    payload = StudentRouting(
        student_ref=student_ref,
        college=where.college,
        placement_refs=[hasher.placement_ref(campus_id, g) for g in where.finer_grants()],
        updated_at=datetime.now(UTC),
    )
    return Envelope.wrap(
        payload, source="/shouwang/casework", campus_id=campus_id, subject=student_ref
    )


async def publish(bootstrap: str, *envelopes: Envelope[Any]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **DURABLE_PRODUCER)
    await producer.start()
    try:
        for envelope in envelopes:
            # Census rows travel on the census topic (the payload knows), everything else on
            # its type's topic.
            await producer.send_and_wait(
                getattr(envelope.data, "topic", envelope.topic),
                envelope.to_bytes(),
                key=envelope.key,
                headers=envelope.kafka_headers(),
            )
    finally:
        await producer.stop()


async def publish_raw(bootstrap: str, topic: str, value: bytes, key: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **DURABLE_PRODUCER)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


@dataclass
class Watcher:
    """Reads what is published to the topics from now on and keeps it."""

    bootstrap: str
    topics: tuple[str, ...] = (ASSESSMENTS, ALERTS)
    events: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, bytes]] = field(default_factory=list)
    _consumer: AIOKafkaConsumer | None = None

    async def __aenter__(self) -> Watcher:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, enable_auto_commit=False
        )
        await self._consumer.start()
        # Start at the end: tests enter the watcher before they publish.
        await assign_at_end(self._consumer, *self.topics)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._consumer is not None
        await self._consumer.stop()

    async def _poll(self) -> None:
        assert self._consumer is not None
        batches = await self._consumer.getmany(timeout_ms=200)
        for records in batches.values():
            for record in records:
                try:
                    event = json.loads(record.value)
                except (TypeError, ValueError):
                    event = {"raw": record.value}
                event["_topic"] = record.topic
                event["_headers"] = {k: v for k, v in (record.headers or [])}
                self.events.append(event)

    async def wait_for(
        self, predicate: Callable[[list[dict[str, Any]]], bool], within: float = 20.0
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            await self._poll()
            if predicate(self.events):
                return self.events
        raise AssertionError(f"timed out; saw {len(self.events)} events")

    async def settle(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            await self._poll()

    def about(self, student_ref: str, event_type: str | None = None) -> list[dict[str, Any]]:
        return [
            e
            for e in self.events
            if e.get("subject") == student_ref
            and (event_type is None or e.get("type") == event_type)
        ]


def of_type(
    events: list[dict[str, Any]], student_ref: str, event_type: str
) -> list[dict[str, Any]]:
    return [e for e in events if e.get("subject") == student_ref and e.get("type") == event_type]


async def eventually(check: Callable[[], Any], within: float = 20.0) -> Any:
    deadline = time.monotonic() + within
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return result
        except Exception as exc:  # keep trying until the deadline
            last = exc
        await asyncio.sleep(0.2)
    raise AssertionError(f"condition not met in {within}s (last error: {last!r})")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"
