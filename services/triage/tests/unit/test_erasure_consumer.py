"""Triage's part of an erasure on request, in memory: the cases topic yields the erasure, a
malformed one is dead-lettered with its reason, and each erasure is applied once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events import StaffListingChanged, StudentErased
from shouwang_contracts.topics import CASES, dead_letter_topic
from shouwang_triage.config import TriageSettings
from shouwang_triage.container import Triage
from shouwang_triage.domain.policy import GradingPolicy
from shouwang_triage.entrypoints.consumers import case_event, register_consumers
from shouwang_triage.service_layer.erasure import apply_erasure

AT = datetime(2026, 12, 6, 12, tzinfo=UTC)


def erased() -> Envelope[StudentErased]:
    return Envelope.wrap(
        StudentErased(student_ref="stu_1", erased_at=AT, cases=2),
        source="/shouwang/casework",
        campus_id="c1",
        subject="stu_1",
    )


class FakeConn:
    """Answers the student's lock, each DELETE and the mark's upsert as PostgreSQL would,
    remembering the statements (the lock, or the table written) and their arguments in order."""

    def __init__(self) -> None:
        self.deleted: list[tuple[str, tuple[Any, ...]]] = []

    async def execute(self, sql: str, *args: Any) -> str:
        if "pg_advisory_xact_lock" in sql:
            self.deleted.append(("lock", args))
            return "SELECT 1"
        table = sql.split()[2]
        self.deleted.append((table, args))
        if sql.startswith("INSERT"):
            return "INSERT 0 1"
        return "DELETE 3" if table == "evidence" else "DELETE 1"


class FakeStore:
    def __init__(self) -> None:
        self.conn = FakeConn()
        self.claimed: set[str] = set()

    async def claim_event(self, event_id: str, topic: str) -> bool:
        if event_id in self.claimed:
            return False
        self.claimed.add(event_id)
        return True


def test_the_cases_topic_yields_an_erasure() -> None:
    envelope = erased()
    record: Any = type("R", (), {"value": envelope.to_bytes(), "headers": []})()
    decoded = case_event(record)
    assert decoded is not None
    assert decoded.data == envelope.data


async def test_an_erasure_deletes_the_students_evidence_and_grade_up_to_its_time_once() -> None:
    store = FakeStore()
    envelope = erased()

    first = await apply_erasure(store, envelope, CASES)  # type: ignore[arg-type]
    again = await apply_erasure(store, envelope, CASES)  # type: ignore[arg-type]

    assert first is not None
    assert (first.evidence, first.grades) == (3, 1)
    assert again is None  # redelivered: already applied
    assert store.conn.deleted == [
        ("lock", (["c1"], ["stu_1"])),  # first: a grading in flight commits before it looks
        ("evidence", ("c1", "stu_1", AT)),
        # and the grade made from it, however late (3: evidence was erased now)
        ("grades", ("c1", "stu_1", AT, 3)),
        ("erasure_marks", ("c1", "stu_1", AT)),  # for the records still on their way
    ]


async def test_a_malformed_erasure_is_dead_lettered_with_its_reason(
    policy: GradingPolicy,
) -> None:
    broker = KafkaBroker()
    settings = TriageSettings(consumers="cases", group_prefix="unit")
    # The poison path never reaches the database or the relay.
    triage = Triage(settings=settings, policy=policy, pool=None, broker=broker, relay=None)  # type: ignore[arg-type]
    register_consumers(triage)
    dead: list[dict[str, Any]] = []

    @broker.subscriber(dead_letter_topic(CASES))
    async def on_dead_letter(message: KafkaMessage) -> None:
        dead.append(dict(message.headers))

    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(
            b'{"id": "x", "type": "shouwang.student.erased", "data": {}}', CASES
        )

    [headers] = dead
    assert headers["x-dlq-reason"].startswith("not a valid shouwang.student.erased")
    assert headers["x-dlq-consumer"] == "unit." + CASES


def test_a_staff_listing_change_on_the_cases_topic_is_passed_over() -> None:
    """Casework's staff-roster facts share the topic; grading has nothing to do with them."""
    envelope = Envelope.wrap(
        StaffListingChanged(person_ref="per_1", listed=True, changed_at=datetime.now(UTC)),
        source="/shouwang/casework",
        campus_id="c1",
        subject="per_1",
    )
    for headers in ([], list(envelope.kafka_headers())):
        record: Any = type("R", (), {"value": envelope.to_bytes(), "headers": headers})()
        assert case_event(record) is None
