"""Reporter feedback: case events move receipts from received to being handled to closed.

Reporters who never hear back stop reporting; they learn that much and nothing of the case.
"""

from __future__ import annotations

import logging

from faststream.kafka import KafkaBroker
from pydantic import TypeAdapter, ValidationError
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events import (
    CaseClosed,
    CaseOpened,
    CaseReportsAttached,
    CaseSeverityChanged,
)
from shouwang_contracts.topics import CASES
from shouwang_servicekit.kafka.consumers import Record, Retry, event_type, subscribe_batch

from .. import metrics
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


def decode_case_event(record: Record) -> ReceiptAdvance | None:
    """What a cases-topic record does to receipts; None for one intake does not use."""
    kind = event_type(record)
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
        return ReceiptAdvance(envelope.id, data.case_id, "closed", [])
    return ReceiptAdvance(envelope.id, data.case_id, "in_progress", data.report_ids)


def register_receipt_consumer(broker: KafkaBroker, store: IntakeStore, group_id: str) -> None:
    """Subscribe to the cases topic; offsets are committed after the receipts are updated.

    Whatever queued up is applied in one transaction and one offset commit: the topic carries
    a case event or more per report, and a commit each cost the broker and the database more
    than the updates (at 100 reports/s, 100 transactions and 100 offset commits a second).
    """

    async def on_case_events(events: list[ReceiptAdvance | None]) -> list[str]:
        wanted = [event for event in events if event is not None]
        advanced = iter(await store.advance_receipts_many(wanted) if wanted else [])
        outcomes = []
        for event in events:
            if event is None:
                outcomes.append("skipped")
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
