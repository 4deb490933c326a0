"""Kafka: keep what the student file needs of reports, screenings, census rows and assessments.

One subscriber per topic (census apart, so a start-of-term upload never holds up a report), each
in its own consumer group, `<CASEWORK_FILE_CONSUMER_GROUP>-<stream>` (`file_groups`). Whatever
queued up is stored as one batch, in one transaction (each record under its own campus),
idempotent by the envelope id (a redelivery inserts nothing); the kit's consumer runtime commits
the offsets only after that transaction commits, and retries a failure as casework's case
consumers do. A record that no retry can fix (not an envelope of the expected type, or refused
by a table constraint) is copied to `<topic>.dlq` with the reason headers, and the consumer goes
on: a batch refused by a table is stored again record by record, so only the record at fault is
dead-lettered.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal

import asyncpg
from shouwang_contracts.envelope import Envelope, Payload
from shouwang_contracts.events.intake import ReportSubmitted, ScreeningSubmitted
from shouwang_contracts.events.triage import AssessmentGraded
from shouwang_contracts.kafka import PoisonEvent, decode_event
from shouwang_contracts.topics import ASSESSMENTS, CENSUS, REPORTS, SCREENINGS
from shouwang_servicekit.kafka.consumers import Record, event_type, subscribe_batch

from .. import metrics
from ..adapters import files
from ..adapters.cases import lock_students
from ..adapters.db import campus_batch
from ..container import Casework
from .consumers import retry

Store = Callable[[asyncpg.Connection, Envelope[Any]], Awaitable[bool]]
Outcome = Literal["stored", "duplicate", "skipped"]

# topic, stream (its group is `<CASEWORK_FILE_CONSUMER_GROUP>-<stream>`), payload type, how
# to store it. The default prefix gives the names deployments have committed offsets under
# (`casework-file-reports` ...): renaming a stream would start its group from the beginning.
RECORD_STREAMS: tuple[tuple[str, str, type[Payload], Store], ...] = (
    (REPORTS, "reports", ReportSubmitted, files.store_report),
    (SCREENINGS, "screenings", ScreeningSubmitted, files.store_screening),
    (CENSUS, "census", ScreeningSubmitted, files.store_screening),
    (ASSESSMENTS, "assessments", AssessmentGraded, files.store_assessment),
)


def file_groups(prefix: str) -> dict[str, str]:
    """The file consumers' group per topic, for `CASEWORK_FILE_CONSUMER_GROUP` = `prefix`."""
    return {topic: f"{prefix}-{stream}" for topic, stream, *_ in RECORD_STREAMS}


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
    envelope = decode_record(value, event_type, payload_cls)
    if envelope is None:
        return "skipped"
    (outcome,) = await store_batch(pool, [envelope], store)
    return outcome


def decode_record(
    value: bytes | None, event_type: str | None, payload_cls: type[Payload]
) -> Envelope[Any] | None:
    """The record's event, or None for a record of another event type (skipped, as in
    `apply_record`); PoisonEvent when it cannot be read."""
    if event_type is not None and event_type != payload_cls.EVENT_TYPE:
        return None
    if not value:
        raise PoisonEvent("empty record value")
    return decode_event(value, payload_cls)


async def store_batch(
    pool: asyncpg.Pool, envelopes: Sequence[Envelope[Any] | None], store: Store
) -> list[Outcome]:
    """Store a batch's events in the file in one transaction, each under its own campus:
    what `apply_record` makes of each (None: `skipped`). PoisonEvent when a table refuses
    one (the whole batch is rolled back).

    The students of the batch's reports are locked first, in the global order of
    `lock_students` (the case consumers' order, so nothing deadlocks): an erasure of their
    file text takes the same lock, so it is ordered before the batch (and `store_report`
    sees it) or after (and erases what the batch filed), never within it."""
    outcomes: list[Outcome] = []
    try:
        async with campus_batch(pool) as batch:
            await lock_students(
                batch.conn,
                [
                    (e.campus_id, e.data.student_ref)
                    for e in envelopes
                    if e is not None and isinstance(e.data, ReportSubmitted)
                ],
            )
            for envelope in envelopes:
                if envelope is None:
                    outcomes.append("skipped")
                    continue
                stored = await store(await batch.enter(envelope.campus_id), envelope)
                outcomes.append("stored" if stored else "duplicate")
    except (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError) as exc:
        raise PoisonEvent(f"refused by the file tables: {type(exc).__name__}") from exc
    return outcomes


def register_record_consumers(casework: Casework) -> None:
    """Subscribe the file's consumers on casework's broker, one group per topic."""
    groups = file_groups(casework.settings.file_consumer_group)
    for topic, _stream, payload_cls, store in RECORD_STREAMS:
        _subscribe(casework, topic, groups[topic], payload_cls, store)


def _subscribe(
    casework: Casework, topic: str, consumer: str, payload_cls: type[Payload], store: Store
) -> None:
    def decode(record: Record) -> Envelope[Any] | None:
        return decode_record(record.value, event_type(record), payload_cls)

    async def keep_in_file(envelopes: list[Envelope[Any] | None]) -> list[Outcome]:
        return await store_batch(casework.pool, envelopes, store)

    subscribe_batch(
        casework.broker,
        topic,
        group_id=consumer,
        decode=decode,
        handle=keep_in_file,
        max_records=casework.settings.consumer_batch_size,
        # The file is not on the way to anyone's alert: a lone record may wait a little.
        poll_ms=max(casework.settings.consumer_poll_ms, 100),
        retry=retry(casework),
        progress=metrics.PROGRESS,
        title=f"{consumer}:{topic}",
    )
