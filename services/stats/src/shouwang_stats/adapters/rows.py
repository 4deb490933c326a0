"""The projection's rows in PostgreSQL: read, fold and write them by generation.

The live path folds a batch into the rows it touches: it takes a transaction-scoped advisory
lock per row key (sorted, so two batches never wait on each other in a circle), reads the
rows, joins the batch into them in Python (`domain.projection`) and writes them back. A
rebuild writes a whole generation with COPY instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..domain.projection import (
    ROW_KEYS,
    AlertRow,
    AssessmentRow,
    CaseRow,
    EscalationRow,
    FollowUpRow,
    NotificationRow,
    Projection,
    ReferralRow,
    Row,
    StudentRow,
    key_of,
)
from .db import Conn

TABLES: dict[type[Row], str] = {
    AssessmentRow: "assessments",
    AlertRow: "alerts",
    EscalationRow: "escalations",
    CaseRow: "cases",
    ReferralRow: "referrals",
    FollowUpRow: "follow_ups",
    StudentRow: "students",
    NotificationRow: "notifications",
}


@dataclass(frozen=True, slots=True)
class _Statements:
    select: str
    upsert: str


def _statements(row_type: type[Row]) -> _Statements:
    table = TABLES[row_type]
    columns = row_type.columns()
    keys = ROW_KEYS[row_type]
    key_list = ", ".join(keys)
    # $1 is the generation; $2.. one array per key column.
    unnest = ", ".join(f"${i + 2}::{_key_type(row_type, k)}[]" for i, k in enumerate(keys))
    select = (
        f"SELECT {', '.join(columns)} FROM {table} "  # noqa: S608 - names from code, not input
        f"WHERE generation = $1 AND ({key_list}) IN (SELECT * FROM unnest({unnest}))"
    )
    placeholders = ", ".join(f"${i + 1}" for i in range(len(columns) + 1))
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keys)
    upsert = (
        f"INSERT INTO {table} (generation, {', '.join(columns)}) "  # noqa: S608
        f"VALUES ({placeholders}) "
        f"ON CONFLICT (generation, {key_list}) DO UPDATE SET {updates}"
    )
    return _Statements(select, upsert)


def _key_type(row_type: type[Row], key: str) -> str:
    return "integer" if (row_type, key) == (EscalationRow, "level") else "text"


_SQL = {row_type: _statements(row_type) for row_type in TABLES}


def _lock_id(row_type: type[Row], key: tuple[Any, ...]) -> int:
    digest = hashlib.blake2b(repr((TABLES[row_type], key)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def fold_into(conn: Conn, generation: int, batch: Projection) -> int:
    """Join a batch's rows into the stored generation (in the caller's transaction).

    Returns how many rows were written.
    """
    locks = sorted(_lock_id(row_type, key) for row_type, rows in batch.rows.items() for key in rows)
    if not locks:
        return 0
    await conn.execute("SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k", locks)
    written = 0
    for row_type, rows in batch.rows.items():
        if not rows:
            continue
        stored = await load(conn, generation, row_type, list(rows))
        merged = []
        for key, row in rows.items():
            known = stored.get(key)
            if known is not None:
                known.merge(row)
                row = known
            merged.append((generation, *row.values()))
        await conn.executemany(_SQL[row_type].upsert, merged)
        written += len(merged)
    return written


async def load(
    conn: Conn,
    generation: int,
    row_type: type[Row],
    keys: Sequence[tuple[Any, ...]],
) -> dict[tuple[Any, ...], Row]:
    """The stored rows of these keys, by key."""
    columns: list[list[Any]] = [[key[i] for key in keys] for i in range(len(ROW_KEYS[row_type]))]
    found = await conn.fetch(_SQL[row_type].select, generation, *columns)
    rows = [row_type(**dict(record)) for record in found]
    return {key_of(row): row for row in rows}


async def copy_generation(conn: Conn, generation: int, batch: Projection) -> int:
    """Write a whole projection into an empty generation with COPY; returns the rows."""
    written = 0
    for row_type, rows in batch.rows.items():
        if not rows:
            continue
        records: Iterable[tuple[Any, ...]] = ((generation, *row.values()) for row in rows.values())
        await conn.copy_records_to_table(
            TABLES[row_type],
            records=records,
            columns=["generation", *row_type.columns()],
        )
        written += len(rows)
    return written


async def delete_generation(conn: Conn, generation: int) -> None:
    """Forget every row of a generation (a retired one, or a rebuild that failed)."""
    for table in TABLES.values():
        await conn.execute(f"DELETE FROM {table} WHERE generation = $1", generation)  # noqa: S608
