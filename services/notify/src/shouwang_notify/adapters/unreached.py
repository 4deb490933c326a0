"""Who a message was meant for and notify cannot reach, and why (no contact on file, nobody
holds the role): recorded for the campus's list of the unreached."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
from shouwang_contracts.events.notify import RecipientKind
from shouwang_contracts.vocabulary import Role


async def record_unreached(
    conn: asyncpg.Connection,
    campus_id: str,
    source_event_id: str,
    alert_id: str | None,
    student_ref: str,
    kind: RecipientKind,
    role: Role | None,
    recipient_ref: str | None,
    reason: str,
) -> None:
    await conn.execute(
        """
        INSERT INTO unreached (campus_id, source_event_id, alert_id, student_ref, recipient_kind,
            recipient_role, recipient_ref, reason)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING
        """,
        campus_id,
        source_event_id,
        alert_id,
        student_ref,
        kind.value,
        role.value if role else None,
        recipient_ref,
        reason,
    )


@dataclass(frozen=True, slots=True)
class Unreached:
    """Someone a message was meant for and notify cannot reach, and why."""

    campus_id: str
    source_event_id: str
    alert_id: str | None
    student_ref: str
    kind: RecipientKind
    role: Role | None
    recipient_ref: str | None
    reason: str


async def record_unreached_many(conn: asyncpg.Connection, rows: Sequence[Unreached]) -> None:
    """`record_unreached` for a planned batch's people, in one statement (a row each was a
    round trip each, one or more per alert where a role is vacant or a contact missing)."""
    if not rows:
        return
    await conn.execute(
        """
        INSERT INTO unreached (campus_id, source_event_id, alert_id, student_ref, recipient_kind,
            recipient_role, recipient_ref, reason)
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                             $6::text[], $7::text[], $8::text[])
        ON CONFLICT DO NOTHING
        """,
        [r.campus_id for r in rows],
        [r.source_event_id for r in rows],
        [r.alert_id for r in rows],
        [r.student_ref for r in rows],
        [r.kind.value for r in rows],
        [r.role.value if r.role else None for r in rows],
        [r.recipient_ref for r in rows],
        [r.reason for r in rows],
    )


async def unreached_list(
    conn: asyncpg.Connection, campus_id: str, limit: int
) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            "SELECT source_event_id, alert_id, recipient_kind, recipient_role, reason, created_at"
            " FROM unreached WHERE campus_id = $1 ORDER BY id DESC LIMIT $2",
            campus_id,
            limit,
        )
    )
