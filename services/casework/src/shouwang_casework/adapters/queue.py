"""A counselor's queue: the cases in their scope, most serious and most urgent first; and the
alerts awaiting their acknowledgement.

Runs inside `campus_transaction`. Scope is matched in SQL against the roster's placement
(`students`), the same way `auth.Placement.matches` does it, so a page never holds a case the
caller may not see.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg
from shouwang_contracts.auth import ScopeGrant
from shouwang_contracts.vocabulary import Role, Severity

from .roster import covers_sql


@dataclass(frozen=True, slots=True)
class QueueFilter:
    """What to list: states, severities, only mine, only unowned, closed too."""

    states: list[str] | None = None
    severities: list[str] | None = None
    owner_ref: str | None = None
    unowned_only: bool = False
    include_closed: bool = False
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True, slots=True)
class QueueRow:
    """One case in the queue."""

    case_id: str
    student_ref: str
    state: str
    severity: str
    owner_ref: str | None
    owner_role: str
    opened_at: datetime
    updated_at: datetime
    deadline: datetime | None
    unacknowledged_alerts: int
    missed_follow_ups: int
    version: int


# The student `s` (a row of `students`) is in the scope given as $1 (campus-wide) and the
# grants' kinds and values ($2, $3): `Placement.matches`, in SQL.
_IN_SCOPE = """($1 OR EXISTS (
                    SELECT 1 FROM unnest($2::text[], $3::text[]) AS g(kind, value)
                    WHERE g.kind = 'campus'
                       OR (g.kind = 'college' AND g.value = s.college)
                       OR (g.kind = 'class' AND g.value = s.class_name)
                       OR (g.kind = 'building' AND g.value = s.building)
                       OR (g.kind = 'floor' AND g.value = s.building || '/' || s.floor)
                       OR (g.kind = 'room' AND g.value = s.building || '/' || s.room)))"""


#: The cases of the queue (`c`, its student `s`): in scope (`$1`-`$3`), closed too (`$4`), of
#: these states (`$5`) and severities (`$6`), owned by `$7`, only unowned (`$8`).
_QUEUE = f"""
            FROM cases c
            LEFT JOIN students s ON s.student_ref = c.student_ref
            WHERE {_IN_SCOPE}
              AND ($4 OR c.state <> 'closed')
              AND ($5::text[] IS NULL OR c.state = ANY($5))
              AND ($6::text[] IS NULL OR c.severity = ANY($6))
              AND ($7::text IS NULL OR c.owner_ref = $7)
              AND (NOT $8 OR c.owner_ref IS NULL)
"""


def _queue_arguments(
    campus_wide: bool, grants: list[ScopeGrant], query: QueueFilter
) -> tuple[object, ...]:
    """`_QUEUE`'s parameters, `$1` to `$8`."""
    return (
        campus_wide,
        [g.kind.value for g in grants],
        [g.value for g in grants],
        query.include_closed,
        query.states,
        query.severities,
        query.owner_ref,
        query.unowned_only,
    )


async def count_queue(
    conn: asyncpg.Connection, *, campus_wide: bool, grants: list[ScopeGrant], query: QueueFilter
) -> int:
    """How many cases `list_queue` would count (its `total`, limit and offset aside): a
    number naming no student."""
    total: int = await conn.fetchval(
        f"SELECT count(*) {_QUEUE}",
        *_queue_arguments(campus_wide, grants, query),
    )
    return total


async def list_queue(
    conn: asyncpg.Connection, *, campus_wide: bool, grants: list[ScopeGrant], query: QueueFilter
) -> tuple[list[QueueRow], int]:
    """A page of the queue and the total count: severity first, then the nearest deadline.

    The deadline is the earliest unacknowledged alert's, else the next open follow-up's.
    """
    rows = await conn.fetch(
        f"""
        WITH visible AS (
            SELECT c.*,
                   (SELECT min(a.ack_deadline) FROM alerts a
                     WHERE a.case_id = c.case_id AND a.acknowledged_at IS NULL) AS alert_due,
                   (SELECT count(*) FROM alerts a
                     WHERE a.case_id = c.case_id AND a.acknowledged_at IS NULL) AS open_alerts,
                   (SELECT min(f.due_at) FROM follow_ups f
                     WHERE f.case_id = c.case_id AND f.status = 'scheduled') AS follow_up_due,
                   (SELECT count(*) FROM follow_ups f
                     WHERE f.case_id = c.case_id AND f.status = 'scheduled'
                       AND f.due_at < now()) AS missed
            {_QUEUE}
        )
        SELECT *, coalesce(alert_due, follow_up_due) AS deadline, count(*) OVER () AS total
        FROM visible
        ORDER BY severity_rank DESC, coalesce(alert_due, follow_up_due) NULLS LAST,
                 opened_at, case_id
        LIMIT $9 OFFSET $10
        """,  # noqa: S608 - the scope clause is code, not input
        *_queue_arguments(campus_wide, grants, query),
        query.limit,
        query.offset,
    )
    total = rows[0]["total"] if rows else 0
    return [
        QueueRow(
            case_id=str(r["case_id"]),
            student_ref=r["student_ref"],
            state=r["state"],
            severity=r["severity"],
            owner_ref=r["owner_ref"],
            owner_role=r["owner_role"],
            opened_at=r["opened_at"],
            updated_at=r["updated_at"],
            deadline=r["deadline"],
            unacknowledged_alerts=r["open_alerts"],
            missed_follow_ups=r["missed"],
            version=r["version"],
        )
        for r in rows
    ], int(total)


@dataclass(frozen=True, slots=True)
class AwaitingRow:
    """An unacknowledged alert the caller may be asked to acknowledge."""

    alert_id: str
    case_id: str
    student_ref: str
    severity: Severity
    owner_role: Role
    escalation_level: int
    raised_at: datetime
    ack_deadline: datetime


#: The unacknowledged alerts about students in scope (`$1`-`$3`: campus-wide, grant kinds,
#: grant values) owned by one of `$4` (owner roles), or by one of `$5` (the ladder roles the
#: caller's role `$6` stands in for, lowest first) whose rung is empty for the student: nobody
#: holds the owner role nor any role between it and `$6` (later in `$5`), and someone holds
#: `$6` (notify's `stand_in_for`, on the roster notify's directory is drawn from: it names
#: nobody responsible for a student who left, whose empty rung the on-duty line takes).
_AWAITING = f"""
        FROM alerts a
        LEFT JOIN students s ON s.student_ref = a.student_ref
        WHERE a.acknowledged_at IS NULL
          AND {_IN_SCOPE}
          AND (a.owner_role = ANY($4::text[])
               OR (a.owner_role = ANY($5::text[]) AND s.active
                   AND NOT EXISTS (
                       SELECT 1 FROM staff_assignments h
                       WHERE array_position($5::text[], h.role)
                             >= array_position($5::text[], a.owner_role)
                         AND {covers_sql("h", "s")})
                   AND EXISTS (
                       SELECT 1 FROM staff_assignments h
                       WHERE h.role = $6 AND {covers_sql("h", "s")})))
"""  # noqa: S608 - the interpolated SQL is code, not input


@dataclass(frozen=True, slots=True)
class AwaitingFor:
    """Whose alerts wait for a caller: the owner roles they confirm (`roles_awaiting`), and the
    lower rungs they stand in for when empty (`roles_stood_in_for`), for a caller in `role`."""

    role: Role
    owner_roles: list[Role]
    stood_in_for: list[Role]


def _awaiting_arguments(
    campus_wide: bool, grants: list[ScopeGrant], awaiting: AwaitingFor
) -> tuple[object, ...]:
    """`_AWAITING`'s parameters, `$1` to `$6`."""
    return (
        campus_wide,
        [g.kind.value for g in grants],
        [g.value for g in grants],
        [r.value for r in awaiting.owner_roles],
        [r.value for r in awaiting.stood_in_for],
        awaiting.role.value,
    )


async def count_awaiting(
    conn: asyncpg.Connection,
    *,
    campus_wide: bool,
    grants: list[ScopeGrant],
    awaiting: AwaitingFor,
    now: datetime,
) -> tuple[int, int]:
    """How many alerts `list_awaiting` would list, and how many of them are past their
    deadline: a number for a badge, naming no student."""
    row = await conn.fetchrow(
        f"SELECT count(*) AS total, count(*) FILTER (WHERE a.ack_deadline <= $7) AS overdue"
        f" {_AWAITING}",
        *_awaiting_arguments(campus_wide, grants, awaiting),
        now,
    )
    assert row is not None
    return int(row["total"]), int(row["overdue"])


async def list_awaiting(
    conn: asyncpg.Connection,
    *,
    campus_wide: bool,
    grants: list[ScopeGrant],
    awaiting: AwaitingFor,
    limit: int,
    offset: int,
) -> tuple[list[AwaitingRow], int]:
    """A page of the unacknowledged alerts waiting for the caller (`_AWAITING`) about students
    in scope, and their count: the gravest first, then the one waiting longest.

    Whatever the case's state: triage escalates an unacknowledged alert of a closed case too.
    """
    rows = await conn.fetch(
        f"""
        SELECT a.alert_id, a.case_id, a.student_ref, a.severity, a.owner_role,
               a.escalation_level, a.raised_at, a.ack_deadline, count(*) OVER () AS total
        {_AWAITING}
        ORDER BY array_position($7::text[], a.severity) DESC NULLS LAST,
                 a.raised_at, a.alert_id
        LIMIT $8 OFFSET $9
        """,
        *_awaiting_arguments(campus_wide, grants, awaiting),
        [s.value for s in sorted(Severity, key=lambda s: s.rank)],
        limit,
        offset,
    )
    total = rows[0]["total"] if rows else 0
    return [
        AwaitingRow(
            alert_id=r["alert_id"],
            case_id=str(r["case_id"]),
            student_ref=r["student_ref"],
            severity=Severity(r["severity"]),
            owner_role=Role(r["owner_role"]),
            escalation_level=r["escalation_level"],
            raised_at=r["raised_at"],
            ack_deadline=r["ack_deadline"],
        )
        for r in rows
    ], int(total)


async def counts_by_state_and_severity(conn: asyncpg.Connection) -> list[tuple[str, str, int]]:
    """Cases by state and severity (for /metrics), this campus."""
    rows = await conn.fetch(
        "SELECT state, severity, count(*) AS n FROM cases WHERE state <> 'closed' "
        "GROUP BY state, severity"
    )
    return [(r["state"], r["severity"], r["n"]) for r in rows]
