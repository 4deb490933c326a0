"""Kafka consumers: triage's assessments and alerts open and feed cases.

Offsets are committed by hand (AckPolicy.MANUAL) and only after the campus transaction that
holds the effects and the `processed_events` claim has committed: a crash before the commit
redelivers the record, and the claim makes the redelivery a no-op. A record no retry can fix
goes to `<topic>.dlq` with the reason, then the offset moves on. A transient failure (the
database away) rewinds to the record and tries again after a pause, never skipping it.

`consume_record` is shared with records' consumers (entrypoints/record_consumers.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.message import StreamMessage
from shouwang_contracts.envelope import Envelope, Payload
from shouwang_contracts.events.triage import AlertEscalated, AlertRaised, AssessmentGraded
from shouwang_contracts.kafka import PoisonEvent, dead_letter, decode_event
from shouwang_contracts.topics import ALERTS, ASSESSMENTS

from .. import metrics
from ..adapters.db import campus_transaction
from ..adapters.outbox import claim_event
from ..bootstrap import Deps
from ..domain.guards import CaseRuleViolation
from ..service_layer.warnings import (
    WarningOutcome,
    on_alert_escalated,
    on_alert_raised,
    on_assessment,
)

logger = logging.getLogger(__name__)

CASES_CONSUMER = "casework.cases"
# aiokafka's ConsumerRecord (topic, partition, offset, key, value, headers); typed loosely so
# casework depends on FastStream's Kafka extra only.
Record = Any
Apply = Callable[[asyncpg.Connection, Envelope[Any], Deps], Awaitable[Any]]

# Failures that say nothing about the record: retry it, however long it takes. PostgreSQL
# reports them by SQLSTATE class: 08 connection, 40 rollback (deadlock, serialization),
# 53 insufficient resources, 57 operator intervention (shutdown, restart), 58 system error.
TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57", "58"})


def is_transient(exc: BaseException) -> bool:
    """Whether a failure is the infrastructure's (retry forever), not the record's."""
    if isinstance(exc, OSError | TimeoutError | asyncpg.InterfaceError):
        return True
    if isinstance(exc, asyncpg.UniqueViolationError):
        return True  # a race with another handler about the same student
    if isinstance(exc, asyncpg.PostgresError):
        return str(getattr(exc, "sqlstate", "") or "")[:2] in TRANSIENT_SQLSTATE_CLASSES
    return False


_ALERT_TYPES: dict[str, type[Payload]] = {
    AlertRaised.EVENT_TYPE: AlertRaised,
    AlertEscalated.EVENT_TYPE: AlertEscalated,
}


async def _raw_body(message: StreamMessage[Any]) -> bytes:
    # Decoding is ours (decode_event), so a malformed record reaches the handler and the
    # dead-letter topic instead of failing inside the framework.
    return bytes(message.body)


def decode_alert(raw: bytes) -> Envelope[Any]:
    """Decode a record of the alerts topic, which carries raised and escalated alerts."""
    try:
        event_type = json.loads(raw).get("type")
    except (ValueError, AttributeError, TypeError) as exc:  # TypeError: a tombstone (None)
        raise PoisonEvent(f"not a JSON object: {exc}") from exc
    payload_cls = _ALERT_TYPES.get(event_type)
    if payload_cls is None:
        raise PoisonEvent(f"unexpected event type on the alerts topic: {event_type!r}")
    return decode_event(raw, payload_cls)


async def consume_record(
    deps: Deps,
    message: KafkaMessage,
    *,
    consumer: str,
    decode: Callable[[bytes], Envelope[Any]],
    apply: Apply,
) -> str:
    """Apply one record exactly once in effect, then commit its offset. Returns the result.

    Results: `applied`, `duplicate`, `dead_lettered`, `retried` (rewound, comes again).
    """
    record: Record = message.raw_message
    topic = record.topic
    try:
        envelope = decode(record.value)
        async with campus_transaction(deps.pool, envelope.campus_id) as conn:
            if await claim_event(
                conn, consumer=consumer, event_id=envelope.id, campus_id=envelope.campus_id
            ):
                await apply(conn, envelope, deps)
                result = "applied"
            else:
                result = "duplicate"
    except (PoisonEvent, CaseRuleViolation) as exc:
        result = await _dead_letter(deps, message, record, consumer, str(exc))
    except Exception as exc:
        transient = is_transient(exc)
        if transient:
            logger.warning("transient failure on %s, retrying: %r", topic, exc)
        else:
            logger.exception("handler failed on %s@%s", topic, record.offset)
        result = await _retry(deps, message, record, consumer, exc, transient=transient)
    else:
        _attempts.pop((topic, record.partition, record.offset), None)
        await message.ack()
    metrics.EVENTS_CONSUMED.labels(topic, result).inc()
    return result


_attempts: dict[tuple[str, int, int], int] = {}


async def _retry(
    deps: Deps,
    message: KafkaMessage,
    record: Record,
    consumer: str,
    exc: Exception,
    *,
    transient: bool,
) -> str:
    key = (record.topic, record.partition, record.offset)
    attempt = _attempts.get(key, 0) + 1
    _attempts[key] = attempt
    if not transient and attempt >= deps.settings.max_attempts:
        _attempts.pop(key, None)
        return await _dead_letter(deps, message, record, consumer, f"failed {attempt}x: {exc!r}")
    await asyncio.sleep(0.2 * 2 ** min(attempt, 6))  # 0.4 s doubling up to 12.8 s
    await message.nack()  # rewinds the partition to this record; nothing is committed past it
    return "retried"


async def _dead_letter(
    deps: Deps, message: KafkaMessage, record: Record, consumer: str, reason: str
) -> str:
    topic, headers = dead_letter(
        record.topic,
        reason=reason,
        partition=record.partition,
        offset=record.offset,
        consumer=consumer,
    )
    try:
        await deps.broker.publish(record.value, topic, key=record.key, headers=headers)
    except Exception:
        logger.exception("dead-letter publish failed; the record comes again")
        await asyncio.sleep(1.0)
        await message.nack()
        return "retried"
    logger.warning(
        "dead-lettered %s@%s:%s: %s", record.topic, record.partition, record.offset, reason
    )
    await message.ack()
    return "dead_lettered"


async def _count(outcome: WarningOutcome, severity: str) -> None:
    if outcome.opened:
        metrics.CASES_OPENED.labels(severity).inc()


def register_case_consumers(broker: KafkaBroker, deps: Deps) -> None:
    """Subscribe casework to assessments and alerts (one consumer group, manual commits)."""
    group = deps.settings.consumer_group

    @broker.subscriber(
        ASSESSMENTS,
        group_id=group,
        ack_policy=AckPolicy.MANUAL,
        auto_offset_reset="earliest",
        decoder=_raw_body,
        title="casework.assessments",
        description="Graded assessments of mild or worse open or feed the student's case.",
    )
    async def assessments(body: bytes, message: KafkaMessage) -> None:
        async def apply(conn: asyncpg.Connection, envelope: Envelope[Any], deps: Deps) -> None:
            outcome = await on_assessment(conn, envelope, deps.cipher)
            await _count(outcome, envelope.data.severity.value)

        await consume_record(
            deps,
            message,
            consumer=CASES_CONSUMER,
            decode=lambda raw: decode_event(raw, AssessmentGraded),
            apply=apply,
        )

    @broker.subscriber(
        ALERTS,
        group_id=group,
        ack_policy=AckPolicy.MANUAL,
        auto_offset_reset="earliest",
        decoder=_raw_body,
        title="casework.alerts",
        description="Raised and escalated alerts land on the case and name its owner.",
    )
    async def alerts(body: bytes, message: KafkaMessage) -> None:
        async def apply(conn: asyncpg.Connection, envelope: Envelope[Any], deps: Deps) -> None:
            if isinstance(envelope.data, AlertRaised):
                outcome = await on_alert_raised(conn, envelope, deps.cipher)
            else:
                outcome = await on_alert_escalated(conn, envelope, deps.cipher)
            await _count(outcome, envelope.data.severity.value)

        await consume_record(
            deps, message, consumer=CASES_CONSUMER, decode=decode_alert, apply=apply
        )
