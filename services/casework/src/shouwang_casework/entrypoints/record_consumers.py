"""Kafka: keep what the student file needs of reports, screenings, census rows and assessments.

One subscriber per topic (census apart, so a start-of-term upload never holds up a report),
each in its own consumer group. A record is stored in one campus transaction, idempotent by
the envelope id (a redelivery inserts nothing); the offset is committed only after that
transaction commits (AckPolicy.NACK_ON_ERROR: an exception rewinds and retries). A record that
no retry can fix (not an envelope of the expected type, or refused by a table constraint) is
copied to `<topic>.dlq` with the reason headers, and the consumer goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import asyncpg
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from shouwang_contracts.envelope import Envelope, Payload
from shouwang_contracts.events.intake import ReportSubmitted, ScreeningSubmitted
from shouwang_contracts.events.triage import AssessmentGraded
from shouwang_contracts.kafka import PoisonEvent, dead_letter, decode_event
from shouwang_contracts.topics import ASSESSMENTS, CENSUS, REPORTS, SCREENINGS

from ..adapters import files
from ..adapters.db import campus_transaction

logger = logging.getLogger("shouwang.casework.records")
RETRY_PAUSE_SECONDS = 1.0

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


def register_record_consumers(broker: KafkaBroker, deps: Any) -> None:
    """Subscribe the file's consumers on `broker`.

    `deps` is any object whose `db_pool` attribute holds the asyncpg pool by the time records
    flow (e.g. `app.state`, filled in the lifespan); it is read per record, not now.
    """
    for topic, consumer, payload_cls, store in RECORD_STREAMS:
        _subscribe(broker, deps, topic, consumer, payload_cls, store)


def _subscribe(
    broker: KafkaBroker,
    deps: Any,
    topic: str,
    consumer: str,
    payload_cls: type[Payload],
    store: Store,
) -> None:
    @broker.subscriber(
        topic,
        group_id=consumer,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        title=f"{consumer}:{topic}",
    )
    async def keep_in_file(message: KafkaMessage) -> None:
        # The raw bytes, not FastStream's decoded body: decoding is decode_event's job, and
        # a body that is not JSON must reach the dead letters, not fail before the handler.
        body = message.body
        event_type = dict(message.headers).get("ce_type")
        try:
            await apply_record(deps.db_pool, body, event_type, payload_cls, store)
        except PoisonEvent as exc:
            await _dead_letter(broker, message, body, str(exc), consumer)
        except Exception:
            # The database is away or busy: the record is retried (nack rewinds the offset);
            # pause first so an outage is not a hot loop of redeliveries.
            logger.warning("keeping %s in the file failed; retrying", topic, exc_info=True)
            await asyncio.sleep(RETRY_PAUSE_SECONDS)
            raise


async def _dead_letter(
    broker: KafkaBroker, message: KafkaMessage, body: bytes, reason: str, consumer: str
) -> None:
    record = message.raw_message
    topic = getattr(record, "topic", None) or ""
    partition = int(getattr(record, "partition", -1))
    offset = int(getattr(record, "offset", -1))
    dlq, headers = dead_letter(
        topic, reason=reason, partition=partition, offset=offset, consumer=consumer
    )
    await broker.publish(body, dlq, key=getattr(record, "key", None), headers=headers)
    # The reason names fields and types, never values: no personal data reaches the log.
    logger.warning("dead-lettered %s[%d]@%d: %s", topic, partition, offset, reason[:200])
