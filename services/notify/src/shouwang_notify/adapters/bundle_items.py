"""Bundle items: what waits to go out to one person as one message (mild warnings for the
daily digest, case notices batched over a short window, grouped oversight notices)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
from shouwang_contracts.vocabulary import Role


async def add_bundle_item(
    conn: asyncpg.Connection,
    *,
    campus_id: str,
    person_ref: str,
    role: Role,
    kind: str,
    item: dict[str, Any],
    source_event_id: str,
    student_ref: str,
    source_time: datetime,
    due_at: datetime,
) -> None:
    await conn.execute(
        """
        INSERT INTO bundle_items (campus_id, person_ref, role, kind, item, source_event_id,
            student_ref, source_time, due_at)
        VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9) ON CONFLICT DO NOTHING
        """,
        campus_id,
        person_ref,
        role.value,
        kind,
        json.dumps(item, ensure_ascii=False, sort_keys=True),
        source_event_id,
        student_ref,
        source_time,
        due_at,
    )


@dataclass(frozen=True, slots=True)
class Bundle:
    """A person's items of one kind that fell due, to go out as one message."""

    campus_id: str
    person_ref: str
    role: Role | None  # none for the on-duty line
    kind: str
    ids: list[int]
    items: list[dict[str, Any]]
    student_ref: str
    first_time: datetime
    # Each item's source event, student and time (in the order of `items`).
    sources: list[tuple[str, str, datetime]] = field(default_factory=list)


async def due_bundles(conn: asyncpg.Connection, now: datetime, limit: int) -> list[Bundle]:
    """Lock the unbundled items of people whose first item fell due (SKIP LOCKED)."""
    rows = await conn.fetch(
        """
        SELECT id, campus_id, person_ref, role, kind, item, source_event_id, student_ref,
            source_time
        FROM bundle_items
        WHERE bundled_at IS NULL AND (campus_id, person_ref, kind) IN (
            SELECT campus_id, person_ref, kind FROM bundle_items
            WHERE bundled_at IS NULL AND due_at <= $1
            GROUP BY campus_id, person_ref, kind LIMIT $2)
        ORDER BY id
        FOR UPDATE SKIP LOCKED
        """,
        now,
        limit,
    )
    bundles: dict[tuple[str, str, str], Bundle] = {}
    for row in rows:
        key = (row["campus_id"], row["person_ref"], row["kind"])
        bundle = bundles.get(key)
        if bundle is None:
            bundle = bundles[key] = Bundle(
                row["campus_id"],
                row["person_ref"],
                Role(row["role"]) if row["role"] else None,
                row["kind"],
                [],
                [],
                row["student_ref"],
                row["source_time"],
            )
        bundle.ids.append(row["id"])
        bundle.items.append(json.loads(row["item"]))
        bundle.sources.append((row["source_event_id"], row["student_ref"], row["source_time"]))
    return list(bundles.values())


async def mark_bundled(conn: asyncpg.Connection, ids: list[int], now: datetime) -> None:
    await conn.execute(
        "UPDATE bundle_items SET bundled_at = $2 WHERE id = ANY($1::bigint[])", ids, now
    )
