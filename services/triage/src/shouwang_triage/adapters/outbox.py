"""Triage's outbox, relayed by the kit's `OutboxRelay` in two lanes.

`urgent` carries whatever tier reports, individual screenings and escalations cause, `bulk`
whatever the census causes, each with a producer of its own (a producer sends one request per
broker at a time, so a census's records in its buffer would otherwise travel ahead of an
urgent alert), so a census backlog never delays a report's alert. Published rows are deleted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import asyncpg
from faststream.kafka import KafkaBroker
from shouwang_servicekit.outbox import (
    OutboxLane,
    OutboxRecord,
    OutboxRelay,
    RelayObserver,
)
from shouwang_servicekit.outbox_table import OutboxTable

from .. import metrics

LANES = ("urgent", "bulk")
# Its insert trigger notifies this channel with the lane at commit (migrations/0006).
TABLE = OutboxTable(schema="triage", lane_column="lane", channel="shouwang_triage_outbox")
# Any constants unique among triage's advisory locks: one leader per lane across replicas.
_LOCK_KEYS = {"urgent": 0x7472_0001, "bulk": 0x7472_0002}


class _Pending(RelayObserver):
    """The outbox gauge, as the relay sees it (housekeeping counts the rows as well)."""

    def published(self, lane: str, records: Sequence[OutboxRecord]) -> None:
        metrics.OUTBOX_PENDING.labels(lane).set(0)

    def idle(self, lane: str) -> None:
        metrics.OUTBOX_PENDING.labels(lane).set(0)

    def listening(self, lane: str, listening: bool) -> None:
        metrics.OUTBOX_LISTENING.labels(lane).set(1 if listening else 0)


def outbox_relay(
    pool: asyncpg.Pool,
    publishers: Mapping[str, KafkaBroker],
    *,
    batch: int,
    poll_seconds: float,
) -> OutboxRelay:
    """The relay of triage's outbox, each lane published by its own producer."""
    return OutboxRelay(
        pool,
        TABLE,
        {lane: OutboxLane(publishers[lane], _LOCK_KEYS[lane]) for lane in LANES},
        batch=batch,
        poll_seconds=poll_seconds,
        observer=_Pending(),
    )
