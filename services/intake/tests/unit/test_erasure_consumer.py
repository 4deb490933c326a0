"""The receipt consumer and an erasure on request, in memory: the erasure is applied once
beside the batch's receipt updates, and a malformed one is dead-lettered with its reason
(unlike a receipt's progress, it is never skipped)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events import StaffListingChanged, StudentErased
from shouwang_contracts.topics import CASES, dead_letter_topic
from shouwang_intake.adapters.erasure import Erased, ReceiptErasure
from shouwang_intake.adapters.store import ReceiptAdvance
from shouwang_intake.entrypoints import consumers

AT = datetime(2026, 12, 6, 12, tzinfo=UTC)


class Store:
    def __init__(self) -> None:
        self.erased: list[ReceiptErasure] = []

    async def advance_receipts_many(self, advances: list[ReceiptAdvance]) -> list[bool]:
        return [True] * len(advances)

    async def erase_student_receipts(self, erasure: ReceiptErasure) -> Erased | None:
        if erasure in self.erased:
            return None
        self.erased.append(erasure)
        return Erased(receipts=2, idempotency_keys=1)


def _erased(headers: bool) -> tuple[bytes, dict[str, str]]:
    envelope = Envelope.wrap(
        StudentErased(student_ref="stu_1", erased_at=AT),
        source="/shouwang/casework",
        campus_id="demo",
        subject="stu_1",
        event_id="ev-erased",
    )
    return envelope.to_bytes(), ({"ce_type": StudentErased.EVENT_TYPE} if headers else {})


async def test_an_erasure_reaches_the_store_once_with_or_without_its_type_header() -> None:
    store = Store()
    broker = KafkaBroker()
    consumers.register_receipt_consumer(broker, store, group_id="unit")  # type: ignore[arg-type]

    async with TestKafkaBroker(broker) as test_broker:
        for headers in (True, False):
            value, kafka_headers = _erased(headers)
            await test_broker.publish(value, CASES, headers=kafka_headers)

    assert store.erased == [ReceiptErasure("ev-erased", "demo", "stu_1", AT)]


async def test_a_malformed_erasure_is_dead_lettered_with_its_reason() -> None:
    broker = KafkaBroker()
    consumers.register_receipt_consumer(broker, Store(), group_id="unit")  # type: ignore[arg-type]
    dead: list[dict[str, Any]] = []

    @broker.subscriber(dead_letter_topic(CASES))
    async def on_dead_letter(message: KafkaMessage) -> None:
        dead.append(dict(message.headers))

    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(
            b'{"id": "x", "type": "shouwang.student.erased", "data": {}}', CASES
        )

    [headers] = dead
    assert headers["x-dlq-source-topic"] == CASES
    assert headers["x-dlq-reason"].startswith("not a valid shouwang.student.erased")


def test_a_staff_listing_change_on_the_cases_topic_is_passed_over() -> None:
    """Casework's staff-roster facts share the topic; receipts have nothing to do with them."""
    envelope = Envelope.wrap(
        StaffListingChanged(person_ref="per_1", listed=False, changed_at=AT),
        source="/shouwang/casework",
        campus_id="demo",
        subject="per_1",
    )
    for headers in ([], list(envelope.kafka_headers())):
        record: Any = type("R", (), {"value": envelope.to_bytes(), "headers": headers})()
        assert consumers.decode_case_event(record) is None
