"""Counting the figures from the projection's rows, in SQL.

Every count comes with the number of distinct students behind it (what suppression looks
at), and totals are counted on their own with GROUPING SETS rather than added up: a student
with a mild and a severe case in one year is two events but one student of the total.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ..domain.linked import Unit
from ..domain.scope import Scope
from ..domain.suppression import Count
from .db import Conn
from .figure_sql import (
    IN_SCOPE,
    STUDENTS,
    TZ_NAMED,
    UNIT,
    Dimension,
    Window,
    cross_sql,
    dimension,
    grouped,
    params,
)


def found_base(by: Dimension) -> str:
    """Cases opened in the window ($5, $6) with a grade: (dim, col, student_ref, weight) and
    the unit they count in."""
    return f"""
        SELECT {dimension(by, "x.opened_at")} AS dim,
               CASE x.severity WHEN 'critical' THEN 'severe' ELSE x.severity END AS col,
               x.student_ref, 1 AS weight, {UNIT}
        FROM cases x {STUDENTS}
        LEFT JOIN assessments a
               ON a.generation = x.generation AND a.assessment_id = x.assessment_id
        WHERE {IN_SCOPE} AND x.opened_at >= $5 AND x.opened_at < $6
          AND x.severity IN ('mild', 'moderate', 'severe', 'critical')
          {TZ_NAMED}
    """  # noqa: S608


async def found(
    conn: Conn, generation: int, scope: Scope, window: Window, by: Dimension
) -> dict[tuple[str | None, str | None], Count]:
    """Events found (cases opened in the window, by their gravest severity) by `by` × bucket."""
    rows = await conn.fetch(
        cross_sql(found_base(by)), *params(generation, scope, window), window.start, window.end
    )
    return grouped(rows)


def relieved_base(by: Dimension) -> str:
    """Completed follow-ups in the window that found the student relieved."""
    return f"""
        SELECT {dimension(by, "x.completed_at")} AS dim, '' AS col, x.student_ref, 1 AS weight,
               {UNIT}
        FROM follow_ups x {STUDENTS}
        WHERE {IN_SCOPE} AND x.status = 'completed' AND x.finding = 'relieved'
          AND x.completed_at >= $5 AND x.completed_at < $6 {TZ_NAMED}
    """  # noqa: S608


async def relieved(
    conn: Conn, generation: int, scope: Scope, window: Window, by: Dimension
) -> dict[str | None, Count]:
    """Person-times relieved: completed follow-ups that found the student relieved."""
    rows = await conn.fetch(
        cross_sql(relieved_base(by)),
        *params(generation, scope, window),
        window.start,
        window.end,
    )
    return {dim: count for (dim, col), count in grouped(rows).items() if col is not None}


def as_of(window: Window, now: datetime) -> datetime:
    """The moment deadlines are judged at: now, or the window's end when it is earlier (a
    year in progress published as of a month's end counts the deadlines missed by then, so
    every later day of the month answers the same)."""
    return min(now, window.end)


def breaches_base(by: Literal["role", "month"]) -> str:
    """Deadlines missed in the window ($5, $6) before now ($7)."""
    dim = "b.role" if by == "role" else "to_char(b.at AT TIME ZONE $4, 'YYYY-MM')"
    return f"""
        SELECT {dim} AS dim, b.severity AS col, b.student_ref, 1 AS weight, b.campus, b.college
        FROM (
            SELECT x.from_role AS role, x.severity, x.student_ref, x.missed_deadline AS at, {UNIT}
            FROM escalations x {STUDENTS} WHERE {IN_SCOPE}
            UNION ALL
            SELECT x.owner_role, x.severity, x.student_ref, x.ack_deadline, {UNIT}
            FROM alerts x {STUDENTS}
            WHERE {IN_SCOPE} AND x.owner_role IS NOT NULL
              AND x.ack_deadline < coalesce(x.acknowledged_at, x.superseded_at, $7)
        ) b WHERE b.at >= $5 AND b.at < $6 AND b.at < $7 {TZ_NAMED}
    """  # noqa: S608


async def breaches(
    conn: Conn,
    generation: int,
    scope: Scope,
    window: Window,
    now: datetime,
    by: Literal["role", "month"] = "role",
) -> dict[tuple[str | None, str | None], Count]:
    """Acknowledgement deadlines missed in the window, by the tier that missed them (or the
    month) × severity: every escalation, and every current deadline passed unacknowledged
    (the top of the ladder, or a deadline the scheduler has not moved yet)."""
    rows = await conn.fetch(
        cross_sql(breaches_base(by)),
        *params(generation, scope, window),
        window.start,
        window.end,
        as_of(window, now),
    )
    return grouped(rows)


async def escalations(
    conn: Conn, generation: int, scope: Scope, window: Window
) -> dict[tuple[str | None, str | None], Count]:
    """Escalations in the window, by the tier the alert climbed to × severity (re-alerts past
    the top rung are breaches, not climbs)."""
    base = f"""
        SELECT x.to_role AS dim, x.severity AS col, x.student_ref, 1 AS weight
        FROM escalations x {STUDENTS}
        WHERE {IN_SCOPE} AND NOT x.realert AND x.escalated_at >= $5 AND x.escalated_at < $6
          {TZ_NAMED}
    """  # noqa: S608
    rows = await conn.fetch(
        cross_sql(base), *params(generation, scope, window), window.start, window.end
    )
    return grouped(rows)


async def referrals(
    conn: Conn, generation: int, scope: Scope, window: Window
) -> dict[str | None, Count]:
    """Referrals made in the window, by where they stand now."""
    base = f"""
        SELECT x.status AS dim, '' AS col, x.student_ref, 1 AS weight
        FROM referrals x {STUDENTS}
        WHERE {IN_SCOPE} AND x.made_at >= $5 AND x.made_at < $6 {TZ_NAMED}
    """  # noqa: S608
    rows = await conn.fetch(
        cross_sql(base), *params(generation, scope, window), window.start, window.end
    )
    return {dim: count for (dim, col), count in grouped(rows).items() if col is not None}


async def follow_ups(
    conn: Conn, generation: int, scope: Scope, window: Window, now: datetime
) -> dict[str | None, Count]:
    """Follow-ups due in the window, by what became of them."""
    base = f"""
        SELECT CASE
                 WHEN x.status = 'completed' AND x.completed_at <= x.due_at THEN 'on_time'
                 WHEN x.status = 'completed' THEN 'late'
                 WHEN x.status = 'cancelled' THEN 'cancelled'
                 WHEN x.due_at < $7 THEN 'overdue'
                 ELSE 'upcoming'
               END AS dim, '' AS col, x.student_ref, 1 AS weight
        FROM follow_ups x {STUDENTS}
        WHERE {IN_SCOPE} AND x.due_at >= $5 AND x.due_at < $6 {TZ_NAMED}
    """  # noqa: S608
    rows = await conn.fetch(
        cross_sql(base), *params(generation, scope, window), window.start, window.end, now
    )
    return {dim: count for (dim, col), count in grouped(rows).items() if col is not None}


async def open_cases(
    conn: Conn, generation: int, scope: Scope, tz: str
) -> dict[tuple[str | None, str | None], Count]:
    """Cases not closed now, by state × severity."""
    base = f"""
        SELECT x.state AS dim, x.severity AS col, x.student_ref, 1 AS weight
        FROM cases x {STUDENTS}
        WHERE {IN_SCOPE} AND x.state <> 'closed' AND x.opened_at IS NOT NULL
          AND x.severity IN ('mild', 'moderate', 'severe', 'critical') {TZ_NAMED}
    """  # noqa: S608
    rows = await conn.fetch(
        cross_sql(base),
        generation,
        list(scope.campuses) if scope.campuses is not None else None,
        list(scope.colleges) if scope.colleges is not None else None,
        tz,
    )
    return grouped(rows)


async def notifications(
    conn: Conn, generation: int, scope: Scope, window: Window
) -> dict[tuple[str | None, str | None], Count]:
    """Notifications queued in the window, by channel × outcome."""
    base = f"""
        SELECT x.channel AS dim, x.outcome AS col, x.student_ref, 1 AS weight
        FROM notifications x {STUDENTS}
        WHERE {IN_SCOPE} AND x.created_at >= $5 AND x.created_at < $6 {TZ_NAMED}
    """  # noqa: S608
    rows = await conn.fetch(
        cross_sql(base), *params(generation, scope, window), window.start, window.end
    )
    return grouped(rows)


#: The families decided once over every unit (domain/linked.py).
Family = Literal["found", "relieved", "breaches"]
_SPINE_BASES: dict[Family, str] = {
    "found": found_base("none"),
    "relieved": relieved_base("none"),
    "breaches": breaches_base("role"),
}


async def spine_counts(
    conn: Conn, generation: int, family: Family, window: Window, now: datetime
) -> dict[tuple[Unit, str | None], Count]:
    """A family's counts in the window for every campus and college, their columns and
    totals: keyed ((campus, college), col) with None for what is summed over."""
    sql = f"""
        WITH base AS ({_SPINE_BASES[family]})
        SELECT campus, college, col, GROUPING(campus, college, col) AS grouping,
               coalesce(sum(weight), 0)::bigint AS value, count(DISTINCT student_ref) AS students
        FROM base GROUP BY GROUPING SETS
             ((campus, college, col), (campus, college), (campus, col), (campus), (col), ())
    """  # noqa: S608 - composed from constants
    every = Scope(campuses=None)
    extra = [as_of(window, now)] if family == "breaches" else []
    rows = await conn.fetch(
        sql, *params(generation, every, window), window.start, window.end, *extra
    )
    counts: dict[tuple[Unit, str | None], Count] = {}
    for r in rows:
        bits = r["grouping"]
        if family != "found" and not bits & 1:
            continue  # one figure per unit: only its total
        unit = (None if bits & 4 else r["campus"], None if bits & 2 else r["college"])
        counts[(unit, None if bits & 1 else r["col"])] = Count(r["value"], r["students"])
    return counts


async def campuses(conn: Conn, generation: int) -> list[str]:
    """Every campus the active projection holds figures of."""
    rows = await conn.fetch(
        """
        SELECT campus_id FROM cases WHERE generation = $1
        UNION SELECT campus_id FROM alerts WHERE generation = $1
        UNION SELECT campus_id FROM notifications WHERE generation = $1
        """,
        generation,
    )
    return sorted(r["campus_id"] for r in rows)
