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
from shouwang_servicekit.kafka.consumers import Record, Retry, event_type, subscribe

from .. import metrics
from ..adapters.store import IntakeStore

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


def register_receipt_consumer(broker: KafkaBroker, store: IntakeStore, group_id: str) -> None:
    """Subscribe to the cases topic; offsets are committed after the receipt is updated."""

    async def on_case_event(record: Record) -> str:
        kind = event_type(record)
        if kind is not None and kind not in _RELEVANT:
            return "skipped"
        try:
            envelope = _CaseEvent.validate_json(record.value or b"")
        except ValidationError:
            # Not a case event intake needs (other types share the topic), or malformed:
            # receipts are a courtesy, so skip rather than block reporters' feedback.
            logger.info("skipped a cases-topic record intake does not use")
            return "skipped"
        data = envelope.data
        if isinstance(data, CaseClosed):
            status, report_ids = "closed", []
        else:
            status, report_ids = "in_progress", data.report_ids
        advanced = await store.advance_receipts(
            envelope.id, case_id=data.case_id, status=status, report_ids=report_ids
        )
        if advanced:
            metrics.RECEIPT_UPDATES.labels(status).inc()
        return "applied"

    subscribe(
        broker,
        CASES,
        group_id=group_id,
        handle=on_case_event,
        retry=RETRY,
        progress=metrics.PROGRESS,
    )
