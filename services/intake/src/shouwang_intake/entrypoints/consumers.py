"""Reporter feedback: case events move receipts from received to being handled to closed.

Reporters who never hear back stop reporting; they learn that much and nothing of the case.
"""

from __future__ import annotations

import asyncio
import logging

from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from pydantic import TypeAdapter, ValidationError
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events import (
    CaseClosed,
    CaseOpened,
    CaseReportsAttached,
    CaseSeverityChanged,
)
from shouwang_contracts.topics import CASES

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


# After a failed receipt update (the database away), wait before the record is redelivered:
# 0.5 s, doubling per consecutive failure, at most 30 s. Retrying at once would spin.
RETRY_FIRST_SECONDS = 0.5
RETRY_MAX_SECONDS = 30.0


def register_receipt_consumer(broker: KafkaBroker, store: IntakeStore, group_id: str) -> None:
    """Subscribe to the cases topic; offsets are committed after the receipt is updated."""
    failures = 0

    @broker.subscriber(
        CASES, group_id=group_id, ack_policy=AckPolicy.NACK_ON_ERROR, auto_offset_reset="earliest"
    )
    async def on_case_event(message: KafkaMessage) -> None:
        # The raw bytes, whatever content-type the producer set: FastStream would otherwise
        # decode JSON into a dict before validation sees it.
        body = message.body
        event_type = dict(message.headers).get("ce_type")
        if event_type is not None and event_type not in _RELEVANT:
            return
        try:
            envelope = _CaseEvent.validate_json(body)
        except ValidationError:
            # Not a case event intake needs (other types share the topic), or malformed:
            # receipts are a courtesy, so skip rather than block reporters' feedback.
            logger.info("skipped a cases-topic record intake does not use")
            return
        data = envelope.data
        if isinstance(data, CaseClosed):
            status, report_ids = "closed", []
        else:
            status, report_ids = "in_progress", data.report_ids
        nonlocal failures
        try:
            advanced = await store.advance_receipts(
                envelope.id, case_id=data.case_id, status=status, report_ids=report_ids
            )
        except Exception:
            failures += 1
            pause = min(RETRY_FIRST_SECONDS * 2 ** (failures - 1), RETRY_MAX_SECONDS)
            logger.warning(
                "receipt update failed (%d in a row); retrying in %.1f s",
                failures,
                pause,
                exc_info=True,
            )
            await asyncio.sleep(pause)
            raise  # not acknowledged: the record comes again
        failures = 0
        if advanced:
            metrics.RECEIPT_UPDATES.labels(status).inc()
