"""Forget consumed event ids once Kafka could no longer redeliver them.

Every consumer records the id of each event it applied (`processed_events`, in the
transaction of its effects) and skips ids it has seen: that makes redelivery harmless. An id
older than the longest retention of any topic (`PROCESSED_EVENT_MEMORY`) cannot come again,
so it is deleted, hourly, by `ProcessedEvents(...).forget_hourly(tasks)`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
from shouwang_contracts.topics import PROCESSED_EVENT_MEMORY

from .outbox_table import quoted
from .tasks import BackgroundTasks, Chore

logger = logging.getLogger("shouwang.processed_events")

#: How often the chore runs.
RETENTION_INTERVAL_SECONDS = 3600.0


@dataclass(frozen=True)
class ProcessedEvents:
    """A service's table of consumed event ids, with a `processed_at` column.

    Where row-level security shows a session one campus at a time (`campus_setting`, set per
    transaction), the ids are forgotten campus by campus, for `campuses()`.
    """

    pool: asyncpg.Pool
    schema: str
    table: str = "processed_events"
    campus_setting: str | None = None
    campuses: Callable[[], Iterable[str]] = tuple

    async def forget_before(self, moment: datetime) -> int:
        """Delete the ids processed before `moment`; returns how many."""
        delete = f"DELETE FROM {quoted(self.schema, self.table)} WHERE processed_at < $1"  # noqa: S608 - identifiers checked by quoted()
        if self.campus_setting is None:
            return _count(await self.pool.execute(delete, moment))
        gone = 0
        for campus_id in self.campuses():
            async with self.pool.acquire() as conn, conn.transaction():
                await conn.execute(
                    "SELECT set_config($1, $2, true)", self.campus_setting, campus_id
                )
                gone += _count(await conn.execute(delete, moment))
        return gone

    def forget_hourly(
        self, tasks: BackgroundTasks, memory: timedelta = PROCESSED_EVENT_MEMORY
    ) -> None:
        """Run the chore among a service's background `tasks`, every hour from now on."""
        tasks.every(RETENTION_INTERVAL_SECONDS, self.chore(memory), name="forget-processed-events")

    def chore(self, memory: timedelta = PROCESSED_EVENT_MEMORY) -> Chore:
        """The periodic chore: forget what is older than `memory`."""

        async def forget() -> bool:
            gone = await self.forget_before(datetime.now(UTC) - memory)
            if gone:
                logger.info("forgot %d processed event ids", gone)
            return False

        return forget


def _count(status: str) -> int:
    return int(status.rsplit(" ", 1)[1])
