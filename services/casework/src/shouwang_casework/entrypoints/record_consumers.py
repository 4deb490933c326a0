"""Kafka: keep what the student file needs of reports, screenings, census rows and assessments.

One subscriber per topic (census apart, so a start-of-term upload never holds up a report),
each in its own consumer group. A record is stored in one campus transaction, idempotent by
the envelope id (a redelivery inserts nothing); the kit's consumer runtime commits the offset
only after that transaction commits, and retries a failure as casework's case consumers do. A
record that no retry can fix (not an envelope of the expected type, or refused by a table
constraint) is copied to `<topic>.dlq` with the reason headers, and the consumer goes on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

import asyncpg
from shouwang_contracts.envelope import Envelope, Payload
from shouwang_contracts.events.intake import ReportSubmitted, ScreeningSubmitted
from shouwang_contracts.events.triage import AssessmentGraded
from shouwang_contracts.kafka import PoisonEvent, decode_event
from shouwang_contracts.topics import ASSESSMENTS, CENSUS, REPORTS, SCREENINGS
from shouwang_servicekit.kafka.consumers import Record, event_type, subscribe

from .. import metrics
from ..adapters import files
from ..adapters.db import campus_transaction
from ..container import Casework
from .consumers import retry

Store = Callable[[asyncpg.Connection, Envelope[Any]], Awaitable[bool]]
Outcome = Literal["stored", "duplicate", "skipped"]

# topic, consumer name (also its group id), payload type, how to store it
RECORD_STREAMS: tuple[tuple[str, str, type[Payload], Store], ...] = (
    (REPORTS, "casework-file-reports", ReportSubmitted, files.store_report),
    (SCREENINGS, "casework-file-screenings", ScreeningSubmitted, files.store_screening),
    (CENSUS, "casework-file-census", ScreeningSubmitted, files.store_screening),
    (ASSESSMENTS, "casework-file-assessments", AssessmentGraded, files.store_assessment),
)


async def apply_record(
    pool: asyncpg.Pool,
    value: bytes,
    event_type: str | None,
    payload_cls: type[Payload],
    store: Store,
) -> Outcome:
    """Store one record's event in the file; raises PoisonEvent when no retry can help.

    Records of other event types on the same topic are skipped (the topic may carry more
    kinds one day); when the `ce_type` header is missing the body decides.
    """
    if event_type is not None and event_type != payload_cls.EVENT_TYPE:
        return "skipped"
    envelope = decode_event(value, payload_cls)
    try:
        async with campus_transaction(pool, envelope.campus_id) as conn:
            stored = await store(conn, envelope)
    except (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError) as exc:
        raise PoisonEvent(f"refused by the file tables: {type(exc).__name__}") from exc
    return "stored" if stored else "duplicate"


def register_record_consumers(casework: Casework) -> None:
    """Subscribe the file's consumers on casework's broker, one group per topic."""
    for topic, consumer, payload_cls, store in RECORD_STREAMS:
        _subscribe(casework, topic, consumer, payload_cls, store)


def _subscribe(
    casework: Casework, topic: str, consumer: str, payload_cls: type[Payload], store: Store
) -> None:
    async def keep_in_file(record: Record) -> str:
        return await apply_record(
            casework.pool, record.value or b"", event_type(record), payload_cls, store
        )

    subscribe(
        casework.broker,
        topic,
        group_id=consumer,
        handle=keep_in_file,
        retry=retry(casework),
        progress=metrics.PROGRESS,
        title=f"{consumer}:{topic}",
    )
