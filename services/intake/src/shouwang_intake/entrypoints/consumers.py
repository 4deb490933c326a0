"""Reporter feedback: case events move receipts from received to being handled to closed.

Reporters who never hear back stop reporting; they learn that much and nothing of the case.
An erasure on request (`student.erased`) ends the student's receipts (`adapters.erasure`).
"""

from __future__ import annotations

import json
import logging

from faststream.kafka import KafkaBroker
from pydantic import TypeAdapter, ValidationError
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events import (
    CaseClosed,
    CaseOpened,
    CaseReportsAttached,
    CaseSeverityChanged,
    StudentErased,
)
from shouwang_contracts.kafka import PoisonEvent, decode_event
from shouwang_contracts.topics import CASES
from shouwang_servicekit.kafka.consumers import Record, Retry, event_type, subscribe_batch

from .. import metrics
from ..adapters.erasure import ReceiptErasure
from ..adapters.store import IntakeStore, ReceiptAdvance

logger = logging.getLogger(__name__)

_CaseEvent = TypeAdapter(
    Envelope[CaseOpened]
    | Envelope[CaseSeverityChanged]
    | Envelope[CaseReportsAttached]
    | Envelope[CaseClosed]
)
_RELEVANT = {
    CaseOpened.EVENT_TYPE,
    CaseSeverityChanged.EVENT_TYPE,
    CaseReportsAttached.EVENT_TYPE,
    CaseClosed.EVENT_TYPE,
}

# After a failed receipt update, wait before the record comes again: 0.5 s, doubling per
# consecutive failure, at most 30 s. Any failure is retried (the database away, most likely):
# a receipt is never worth a dead letter.
RETRY = Retry(first_pause=0.5, longest_pause=30.0, attempts=None)


#: Case events applied together at most (one transaction and one offset commit for them).
BATCH = 500


def decode_case_event(record: Record) -> ReceiptAdvance | ReceiptErasure | None:
    """What a cases-topic record does to receipts; None for one intake does not use.

    An erasure that breaks its contract is poison (dead-lettered with the reason): unlike a
    receipt's progress, a student's erasure must never be skipped unnoticed."""
    kind = event_type(record) or _body_type(record)
    if kind == StudentErased.EVENT_TYPE:
        erased = decode_event(record.value or b"", StudentErased)
        return ReceiptErasure(
            erased.id, erased.campus_id, erased.data.student_ref, erased.data.erased_at
        )
    if kind is not None and kind not in _RELEVANT:
        return None
    try:
        envelope = _CaseEvent.validate_json(record.value or b"")
    except ValidationError:
        # Not a case event intake needs (other types share the topic), or malformed:
        # receipts are a courtesy, so skip rather than block reporters' feedback.
        logger.info("skipped a cases-topic record intake does not use")
        return None
    data = envelope.data
    if isinstance(data, CaseClosed):
        return ReceiptAdvance(envelope.id, data.case_id, "closed", [], data.student_ref)
    return ReceiptAdvance(
        envelope.id, data.case_id, "in_progress", data.report_ids, data.student_ref
    )


def _body_type(record: Record) -> str | None:
    """The event type a record without a `ce_type` header names in its body, if it reads."""
    try:
        kind = json.loads(record.value or b"").get("type")
    except (ValueError, AttributeError) as exc:
        raise PoisonEvent(f"not a JSON event: {type(exc).__name__}") from exc
    return kind if isinstance(kind, str) else None


async def erase_receipts(store: IntakeStore, erasure: ReceiptErasure) -> bool:
    """Apply one erasure; log its counts (never a reference). False: applied before."""
    erased = await store.erase_student_receipts(erasure)
    if erased is None:
        return False
    logger.info(
        "erasure %s applied for campus %s: %d receipts, %d idempotency keys",
        erasure.event_id,
        erasure.campus_id,
        erased.receipts,
        erased.idempotency_keys,
    )
    return True


def register_receipt_consumer(broker: KafkaBroker, store: IntakeStore, group_id: str) -> None:
    """Subscribe to the cases topic; offsets are committed after the receipts are updated.

    Whatever queued up is applied in one transaction and one offset commit: the topic carries
    a case event or more per report, and a commit each cost the broker and the database more
    than the updates (at 100 reports/s, 100 transactions and 100 offset commits a second).
    """

    async def on_case_events(events: list[ReceiptAdvance | ReceiptErasure | None]) -> list[str]:
        wanted = [event for event in events if isinstance(event, ReceiptAdvance)]
        advanced = iter(await store.advance_receipts_many(wanted) if wanted else [])
        # Erasures after the batch's advances, each in a transaction of its own: an erasure
        # takes only receipts received by its time, and the advances of the batch touch
        # receipts of cases opened before it (all closed then) or after it (kept), so either
        # order leaves the same rows.
        erased = {
            event.event_id: await erase_receipts(store, event)
            for event in events
            if isinstance(event, ReceiptErasure)
        }
        outcomes = []
        for event in events:
            if event is None:
                outcomes.append("skipped")
            elif isinstance(event, ReceiptErasure):
                outcomes.append("applied" if erased[event.event_id] else "duplicate")
            elif next(advanced):
                metrics.RECEIPT_UPDATES.labels(event.status).inc()
                outcomes.append("applied")
            else:
                outcomes.append("duplicate")
        return outcomes

    subscribe_batch(
        broker,
        CASES,
        group_id=group_id,
        decode=decode_case_event,
        handle=on_case_events,
        max_records=BATCH,
        poll_ms=100,
        retry=RETRY,
        progress=metrics.PROGRESS,
    )
