"""A service's outbox table: where it is, what its rows look like, and how a transaction
writes events into it (`OutboxTable.enqueue`) for the relay (outbox) to publish once it
committed."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from shouwang_contracts.envelope import Envelope

_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")


def quoted(*names: str) -> str:
    """A (schema-)qualified SQL identifier, from lowercase names only."""
    for name in names:
        if not _IDENTIFIER.fullmatch(name):
            raise ValueError(f"not a plain SQL identifier: {name!r}")
    return ".".join(f'"{name}"' for name in names)


@dataclass(frozen=True)
class OutboxTable:
    """Where a service's outbox is and what its rows look like.

    - `value_column`: the record's bytes (the envelope's JSON);
    - `campus_column`: the event's campus, where row-level security keys rows by campus;
    - `lane_column`: the lane of each row, when the table holds several;
    - `keep_published`: mark published rows (`published_at`) instead of deleting them;
    - `relay_setting`: a setting the relay's session turns on, where row-level security
      shows a session only one campus's rows unless it is on;
    - `channel`: the channel the table's insert trigger notifies at commit, the payload
      being the lane (the service's migrations create the trigger).
    """

    schema: str
    table: str = "outbox"
    value_column: str = "value"
    lane_column: str | None = None
    keep_published: bool = False
    relay_setting: str | None = None
    campus_column: str | None = None
    channel: str | None = None

    @property
    def name(self) -> str:
        return quoted(self.schema, self.table)

    @cached_property
    def _insert(self) -> str:
        tags = [c for c in (self.campus_column, self.lane_column) if c is not None]
        columns = [*tags, "event_id", "topic", "key", self.value_column, "headers"]
        values = [f"${n}" for n in range(1, len(columns))] + [f"${len(columns)}::jsonb"]
        return (
            f"INSERT INTO {self.name} ({', '.join(quoted(c) for c in columns)})"  # noqa: S608
            f" VALUES ({', '.join(values)}) ON CONFLICT (event_id) DO NOTHING"
        )

    async def enqueue(
        self,
        conn: asyncpg.Connection | PoolConnectionProxy,
        envelopes: Sequence[Envelope[Any]],
        *,
        lane: str | None = None,
    ) -> None:
        """Write events into the outbox in the caller's transaction: the relay publishes them
        once it committed, in list order. An event id already there is a no-op, so a retried
        handler cannot double it. `lane` is required exactly where the table has lanes."""
        if (lane is None) != (self.lane_column is None):
            raise ValueError(f"{self.name}: a lane is needed exactly where the table has lanes")
        rows = [
            (
                *([envelope.campus_id] if self.campus_column else []),
                *([lane] if lane is not None else []),
                envelope.id,
                envelope.topic,
                envelope.key,
                envelope.to_bytes(),
                json.dumps(envelope.headers()),
            )
            for envelope in envelopes
        ]
        if len(rows) == 1:
            await conn.execute(self._insert, *rows[0])
        elif rows:
            await conn.executemany(self._insert, rows)
