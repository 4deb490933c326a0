"""Publish events as triage and casework would, and read what notify publishes."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from shouwang_contracts.envelope import Envelope, Payload
from shouwang_contracts.events.casework import (
    CaseOpened,
    FamilyContactDecided,
    FamilyContactDecision,
    ResponsibleStaff,
    StudentRouting,
)
from shouwang_contracts.events.triage import AlertEscalated, AlertRaised
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_contracts.topics import NOTIFICATIONS
from shouwang_contracts.vocabulary import Role, Severity
from shouwang_devstack.topics import assign_at_end
from shouwang_servicekit.kafka.clients import DURABLE_PRODUCER


def wrap(payload: Payload, campus_id: str, student_ref: str) -> Envelope[Any]:
    return Envelope.wrap(payload, source="/test", campus_id=campus_id, subject=student_ref)


async def publish(bootstrap: str, *envelopes: Envelope[Any]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **DURABLE_PRODUCER)
    await producer.start()
    try:
        for envelope in envelopes:
            await producer.send_and_wait(
                envelope.topic,
                envelope.to_bytes(),
                key=envelope.key,
                headers=envelope.kafka_headers(),
            )
    finally:
        await producer.stop()


async def until_notify_holds(
    dsn: str, sql: str, *args: Any, what: str, within: float = 60.0
) -> None:
    """Poll notify's database until `sql` (over every campus) gives a truthy value.

    What notify has applied is the real condition a later event depends on: its groups join
    one by one after it is ready (seconds apart on a loaded machine), so a record on one topic
    can be handled before one published earlier on another."""
    deadline = time.monotonic() + within
    while True:
        conn = await asyncpg.connect(dsn)
        try:
            # Notify's tables are row-level secured per campus; its workers read them all so.
            await conn.execute("SELECT set_config('shouwang.all_campuses', 'on', false)")
            if await conn.fetchval(sql, *args):
                return
        finally:
            await conn.close()
        assert time.monotonic() < deadline, f"notify never held {what} within {within} s"
        await asyncio.sleep(0.2)


async def until_directory_applied(dsn: str, campus_id: str, student_ref: str) -> None:
    """Until notify knows who is responsible for the student (a directory entry applied)."""
    await until_notify_holds(
        dsn,
        "SELECT count(*) FROM responsible WHERE campus_id = $1 AND student_ref = $2",
        campus_id,
        student_ref,
        what="the student's directory entry",
    )


def directory(
    campus_id: str, pseudonyms: Pseudonymizer, student_no: str, staff: dict[Role, str]
) -> Envelope[Any]:
    student_ref = pseudonyms.student_ref(campus_id, student_no)
    return wrap(
        StudentRouting(
            student_ref=student_ref,
            responsible=[
                ResponsibleStaff(role=role, person_ref=pseudonyms.person_ref(campus_id, number))
                for role, number in staff.items()
            ],
            updated_at=datetime.now(UTC),
        ),
        campus_id,
        student_ref,
    )


def alert(
    campus_id: str,
    student_ref: str,
    severity: Severity,
    *,
    owner: Role = Role.COUNSELING_CENTER,
    inform: tuple[Role, ...] = (),
    deadline: timedelta = timedelta(hours=2),
) -> Envelope[Any]:
    now = datetime.now(UTC)
    return wrap(
        AlertRaised(
            alert_id=str(uuid.uuid4()),
            assessment_id=str(uuid.uuid4()),
            student_ref=student_ref,
            severity=severity,
            owner_role=owner,
            inform_roles=list(inform),
            ack_deadline=now + deadline,
            policy_version="test",
            raised_at=now,
        ),
        campus_id,
        student_ref,
    )


def escalated(
    campus_id: str,
    student_ref: str,
    severity: Severity,
    *,
    from_role: Role,
    owner: Role,
    inform: tuple[Role, ...] = (),
    level: int = 1,
) -> Envelope[Any]:
    """Triage's escalation of a fresh alert from `from_role` to `owner`, now."""
    now = datetime.now(UTC)
    return wrap(
        AlertEscalated(
            alert_id=str(uuid.uuid4()),
            student_ref=student_ref,
            severity=severity,
            from_role=from_role,
            owner_role=owner,
            inform_roles=list(inform),
            ack_deadline=now + timedelta(hours=1),
            escalation_level=level,
            missed_deadline=now,
            escalated_at=now,
        ),
        campus_id,
        student_ref,
    )


def case_with_consent(campus_id: str, student_ref: str, severity: Severity) -> list[Envelope[Any]]:
    case_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    return [
        wrap(
            CaseOpened(
                case_id=case_id,
                student_ref=student_ref,
                severity=severity,
                owner_ref=None,
                owner_role=Role.COUNSELING_CENTER,
                opened_at=now,
            ),
            campus_id,
            student_ref,
        ),
        wrap(
            FamilyContactDecided(
                case_id=case_id,
                student_ref=student_ref,
                decision=FamilyContactDecision.GIVEN,
                decided_by_ref="per_center",
                decided_by_role=Role.COUNSELING_CENTER,
                decided_at=now,
            ),
            campus_id,
            student_ref,
        ),
    ]


@dataclass
class NotificationWatcher:
    """Collects what notify publishes on the notifications topic from now on."""

    bootstrap: str
    seen: list[dict[str, Any]] = field(default_factory=list)
    _consumer: AIOKafkaConsumer | None = None
    _task: asyncio.Task[None] | None = None

    async def start(self) -> NotificationWatcher:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, enable_auto_commit=False
        )
        await self._consumer.start()
        await assign_at_end(self._consumer, NOTIFICATIONS)
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            batches = await self._consumer.getmany(timeout_ms=100)
            for records in batches.values():
                self.seen.extend(json.loads(r.value) for r in records)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer is not None:
            await self._consumer.stop()

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.seen if e["type"] == event_type]

    async def wait(
        self, event_type: str, count: int = 1, within: float = 60.0
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            found = self.of_type(event_type)
            if len(found) >= count:
                return found
            await asyncio.sleep(0.05)
        raise AssertionError(
            f"{count} {event_type} not seen within {within} s: {len(self.of_type(event_type))}"
        )
