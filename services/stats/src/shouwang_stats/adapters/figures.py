"""Counting the figures from the projection's rows, in SQL.

Every count comes with the number of distinct students behind it (what suppression looks
at), and totals are counted on their own with GROUPING SETS rather than added up: a student
with a mild and a severe case in one year is two events but one student of the total.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import asyncpg

from ..domain.figures import Milestone, Timeline
from ..domain.linked import Unit
from ..domain.scope import Scope
from ..domain.suppression import Count
from .db import Conn

Dimension = Literal["none", "campus", "college", "source", "instrument", "month"]

_DIMENSIONS: dict[Dimension, str] = {
    "none": "''",
    "campus": "x.campus_id",
    "college": "coalesce(s.college, '')",
    "source": "coalesce(a.source, 'unknown')",
    "instrument": "coalesce(a.instrument, 'unknown')",
    "month": "to_char({at} AT TIME ZONE $4, 'YYYY-MM')",
}


@dataclass(frozen=True, slots=True)
class Window:
    """[start, end) and the campus time zone months are read in."""

    start: datetime
    end: datetime
    tz: str


# $1 generation, $2 campuses, $3 colleges, $4 time zone; further parameters per query.
_STUDENTS = (
    "LEFT JOIN students s ON s.generation = x.generation AND s.campus_id = x.campus_id"
    " AND s.student_ref = x.student_ref"
)
_IN_SCOPE = (
    "x.generation = $1 AND ($2::text[] IS NULL OR x.campus_id = ANY($2))"
    " AND ($3::text[] IS NULL OR s.college = ANY($3))"
)
# The unit a row counts in (domain/linked.py): its campus and college ("" off the roster).
_UNIT = "x.campus_id AS campus, coalesce(s.college, '') AS college"
# Every query takes the time zone as $4; one that reads no month still names it, or
# PostgreSQL could not tell the parameter's type.
_TZ_NAMED = "AND $4::text IS NOT NULL"


class NoProjection(Exception):
    """No generation is active yet (the first build has not finished)."""


@asynccontextmanager
async def reading(pool: asyncpg.Pool) -> AsyncIterator[PgFigures]:
    """The active generation's figures, read in one consistent snapshot."""
    async with (
        pool.acquire() as conn,
        conn.transaction(isolation="repeatable_read", readonly=True),
    ):
        generation = await conn.fetchval("SELECT generation FROM projection WHERE state = 'active'")
        if generation is None:
            raise NoProjection
        yield PgFigures(conn, int(generation))


class PgFigures:
    """The figure queries on one connection and generation (what the service layer reads)."""

    def __init__(self, conn: Conn, generation: int) -> None:
        self.conn = conn
        self.generation = generation

    async def found(
        self, scope: Scope, window: Window, by: Dimension
    ) -> dict[tuple[str | None, str | None], Count]:
        return await found(self.conn, self.generation, scope, window, by)

    async def relieved(
        self, scope: Scope, window: Window, by: Dimension
    ) -> dict[str | None, Count]:
        return await relieved(self.conn, self.generation, scope, window, by)

    async def timelines(self, scope: Scope, window: Window) -> list[tuple[str, str, Timeline]]:
        return await timelines(self.conn, self.generation, scope, window)

    async def breaches(
        self, scope: Scope, window: Window, now: datetime, by: Literal["role", "month"]
    ) -> dict[tuple[str | None, str | None], Count]:
        return await breaches(self.conn, self.generation, scope, window, now, by)

    async def escalations(
        self, scope: Scope, window: Window
    ) -> dict[tuple[str | None, str | None], Count]:
        return await escalations(self.conn, self.generation, scope, window)

    async def referrals(self, scope: Scope, window: Window) -> dict[str | None, Count]:
        return await referrals(self.conn, self.generation, scope, window)

    async def follow_ups(
        self, scope: Scope, window: Window, now: datetime
    ) -> dict[str | None, Count]:
        return await follow_ups(self.conn, self.generation, scope, window, now)

    async def open_cases(self, scope: Scope, tz: str) -> dict[tuple[str | None, str | None], Count]:
        return await open_cases(self.conn, self.generation, scope, tz)

    async def notifications(
        self, scope: Scope, window: Window
    ) -> dict[tuple[str | None, str | None], Count]:
        return await notifications(self.conn, self.generation, scope, window)

    async def delivery_seconds(self, scope: Scope, window: Window) -> list[tuple[str, str, float]]:
        return await delivery_seconds(self.conn, self.generation, scope, window)

    async def spine(
        self, family: Family, window: Window, now: datetime
    ) -> dict[tuple[Unit, str | None], Count]:
        return await spine_counts(self.conn, self.generation, family, window, now)

    async def campuses(self) -> list[str]:
        return await campuses(self.conn, self.generation)


def _dimension(by: Dimension, at: str) -> str:
    return _DIMENSIONS[by].format(at=at)


def _grouped(rows: Sequence[asyncpg.Record]) -> dict[tuple[str | None, str | None], Count]:
    """Rows of (dim, col, grouping, value, students) → counts keyed like `cross_from_rows`."""
    counts: dict[tuple[str | None, str | None], Count] = {}
    for r in rows:
        bits = r["grouping"]
        dim = None if bits & 2 else r["dim"]
        col = None if bits & 1 else r["col"]
        counts[(dim, col)] = Count(r["value"], r["students"])
    return counts


def _cross_sql(base: str) -> str:
    """GROUPING SETS over a base query yielding (dim, col, student_ref, weight)."""
    return f"""
        WITH base AS ({base})
        SELECT dim, col, GROUPING(dim, col) AS grouping,
               coalesce(sum(weight), 0)::bigint AS value, count(DISTINCT student_ref) AS students
        FROM base GROUP BY GROUPING SETS ((dim, col), (dim), (col), ())
    """  # noqa: S608 - composed from constants


def _params(generation: int, scope: Scope, window: Window) -> list[Any]:
    return [
        generation,
        list(scope.campuses) if scope.campuses is not None else None,
        list(scope.colleges) if scope.colleges is not None else None,
        window.tz,
    ]


def found_base(by: Dimension) -> str:
    """Cases opened in the window ($5, $6) with a grade: (dim, col, student_ref, weight) and
    the unit they count in."""
    return f"""
        SELECT {_dimension(by, "x.opened_at")} AS dim,
               CASE x.severity WHEN 'critical' THEN 'severe' ELSE x.severity END AS col,
               x.student_ref, 1 AS weight, {_UNIT}
        FROM cases x {_STUDENTS}
        LEFT JOIN assessments a
               ON a.generation = x.generation AND a.assessment_id = x.assessment_id
        WHERE {_IN_SCOPE} AND x.opened_at >= $5 AND x.opened_at < $6
          AND x.severity IN ('mild', 'moderate', 'severe', 'critical')
          {_TZ_NAMED}
    """  # noqa: S608


async def found(
    conn: Conn, generation: int, scope: Scope, window: Window, by: Dimension
) -> dict[tuple[str | None, str | None], Count]:
    """Events found (cases opened in the window, by their gravest severity) by `by` × bucket."""
    rows = await conn.fetch(
        _cross_sql(found_base(by)), *_params(generation, scope, window), window.start, window.end
    )
    return _grouped(rows)


def relieved_base(by: Dimension) -> str:
    """Completed follow-ups in the window that found the student relieved."""
    return f"""
        SELECT {_dimension(by, "x.completed_at")} AS dim, '' AS col, x.student_ref, 1 AS weight,
               {_UNIT}
        FROM follow_ups x {_STUDENTS}
        WHERE {_IN_SCOPE} AND x.status = 'completed' AND x.finding = 'relieved'
          AND x.completed_at >= $5 AND x.completed_at < $6 {_TZ_NAMED}
    """  # noqa: S608


async def relieved(
    conn: Conn, generation: int, scope: Scope, window: Window, by: Dimension
) -> dict[str | None, Count]:
    """Person-times relieved: completed follow-ups that found the student relieved."""
    rows = await conn.fetch(
        _cross_sql(relieved_base(by)),
        *_params(generation, scope, window),
        window.start,
        window.end,
    )
    return {dim: count for (dim, col), count in _grouped(rows).items() if col is not None}


async def timelines(
    conn: Conn, generation: int, scope: Scope, window: Window
) -> list[tuple[str, str, Timeline]]:
    """Each case opened in the window: its opening month, its campus and when it reached each
    milestone."""
    rows = await conn.fetch(
        f"""
        SELECT to_char(x.opened_at AT TIME ZONE $4, 'YYYY-MM') AS month, x.campus_id,
               x.student_ref,
               a.reported_at, a.graded_at, x.acknowledged_at, x.intervened_at,
               (SELECT min(r.answered_at) FROM referrals r
                 WHERE r.generation = x.generation AND r.case_id = x.case_id)
                 AS referral_answered_at,
               CASE WHEN x.state = 'closed' THEN x.closed_at END AS closed_at,
               (SELECT min(f.completed_at) FROM follow_ups f
                 WHERE f.generation = x.generation AND f.case_id = x.case_id
                   AND x.state = 'closed' AND f.completed_at >= x.closed_at)
                 AS followed_up_at
        FROM cases x {_STUDENTS}
        LEFT JOIN assessments a
               ON a.generation = x.generation AND a.assessment_id = x.assessment_id
        WHERE {_IN_SCOPE} AND x.opened_at >= $5 AND x.opened_at < $6
          AND x.severity IN ('mild', 'moderate', 'severe', 'critical')
        """,  # noqa: S608
        *_params(generation, scope, window),
        window.start,
        window.end,
    )
    columns = {
        Milestone.REPORTED: "reported_at",
        Milestone.GRADED: "graded_at",
        Milestone.ACKNOWLEDGED: "acknowledged_at",
        Milestone.INTERVENED: "intervened_at",
        Milestone.REFERRAL_ANSWERED: "referral_answered_at",
        Milestone.CLOSED: "closed_at",
        Milestone.FOLLOWED_UP: "followed_up_at",
    }
    return [
        (
            r["month"],
            r["campus_id"],
            Timeline(
                r["student_ref"],
                {m: r[c] for m, c in columns.items() if r[c] is not None},
            ),
        )
        for r in rows
    ]


def breaches_base(by: Literal["role", "month"]) -> str:
    """Deadlines missed in the window ($5, $6) before now ($7)."""
    dim = "b.role" if by == "role" else "to_char(b.at AT TIME ZONE $4, 'YYYY-MM')"
    return f"""
        SELECT {dim} AS dim, b.severity AS col, b.student_ref, 1 AS weight, b.campus, b.college
        FROM (
            SELECT x.from_role AS role, x.severity, x.student_ref, x.missed_deadline AS at, {_UNIT}
            FROM escalations x {_STUDENTS} WHERE {_IN_SCOPE}
            UNION ALL
            SELECT x.owner_role, x.severity, x.student_ref, x.ack_deadline, {_UNIT}
            FROM alerts x {_STUDENTS}
            WHERE {_IN_SCOPE} AND x.owner_role IS NOT NULL
              AND x.ack_deadline < coalesce(x.acknowledged_at, x.superseded_at, $7)
        ) b WHERE b.at >= $5 AND b.at < $6 AND b.at < $7 {_TZ_NAMED}
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
        _cross_sql(breaches_base(by)),
        *_params(generation, scope, window),
        window.start,
        window.end,
        now,
    )
    return _grouped(rows)


async def escalations(
    conn: Conn, generation: int, scope: Scope, window: Window
) -> dict[tuple[str | None, str | None], Count]:
    """Escalations in the window, by the tier the alert climbed to × severity (re-alerts past
    the top rung are breaches, not climbs)."""
    base = f"""
        SELECT x.to_role AS dim, x.severity AS col, x.student_ref, 1 AS weight
        FROM escalations x {_STUDENTS}
        WHERE {_IN_SCOPE} AND NOT x.realert AND x.escalated_at >= $5 AND x.escalated_at < $6
          {_TZ_NAMED}
    """  # noqa: S608
    rows = await conn.fetch(
        _cross_sql(base), *_params(generation, scope, window), window.start, window.end
    )
    return _grouped(rows)


async def referrals(
    conn: Conn, generation: int, scope: Scope, window: Window
) -> dict[str | None, Count]:
    """Referrals made in the window, by where they stand now."""
    base = f"""
        SELECT x.status AS dim, '' AS col, x.student_ref, 1 AS weight
        FROM referrals x {_STUDENTS}
        WHERE {_IN_SCOPE} AND x.made_at >= $5 AND x.made_at < $6 {_TZ_NAMED}
    """  # noqa: S608
    rows = await conn.fetch(
        _cross_sql(base), *_params(generation, scope, window), window.start, window.end
    )
    return {dim: count for (dim, col), count in _grouped(rows).items() if col is not None}


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
        FROM follow_ups x {_STUDENTS}
        WHERE {_IN_SCOPE} AND x.due_at >= $5 AND x.due_at < $6 {_TZ_NAMED}
    """  # noqa: S608
    rows = await conn.fetch(
        _cross_sql(base), *_params(generation, scope, window), window.start, window.end, now
    )
    return {dim: count for (dim, col), count in _grouped(rows).items() if col is not None}


async def open_cases(
    conn: Conn, generation: int, scope: Scope, tz: str
) -> dict[tuple[str | None, str | None], Count]:
    """Cases not closed now, by state × severity."""
    base = f"""
        SELECT x.state AS dim, x.severity AS col, x.student_ref, 1 AS weight
        FROM cases x {_STUDENTS}
        WHERE {_IN_SCOPE} AND x.state <> 'closed' AND x.opened_at IS NOT NULL
          AND x.severity IN ('mild', 'moderate', 'severe', 'critical') {_TZ_NAMED}
    """  # noqa: S608
    rows = await conn.fetch(
        _cross_sql(base),
        generation,
        list(scope.campuses) if scope.campuses is not None else None,
        list(scope.colleges) if scope.colleges is not None else None,
        tz,
    )
    return _grouped(rows)


async def notifications(
    conn: Conn, generation: int, scope: Scope, window: Window
) -> dict[tuple[str | None, str | None], Count]:
    """Notifications queued in the window, by channel × outcome."""
    base = f"""
        SELECT x.channel AS dim, x.outcome AS col, x.student_ref, 1 AS weight
        FROM notifications x {_STUDENTS}
        WHERE {_IN_SCOPE} AND x.created_at >= $5 AND x.created_at < $6 {_TZ_NAMED}
    """  # noqa: S608
    rows = await conn.fetch(
        _cross_sql(base), *_params(generation, scope, window), window.start, window.end
    )
    return _grouped(rows)


async def delivery_seconds(
    conn: Conn, generation: int, scope: Scope, window: Window
) -> list[tuple[str, str, float]]:
    """(channel, student_ref, seconds from queued to delivered) for delivered notifications."""
    rows = await conn.fetch(
        f"""
        SELECT x.channel, x.student_ref,
               extract(epoch FROM x.finished_at - x.created_at)::float8 AS seconds
        FROM notifications x {_STUDENTS}
        WHERE {_IN_SCOPE} AND x.outcome = 'delivered'
          AND x.created_at >= $5 AND x.created_at < $6 {_TZ_NAMED}
        """,  # noqa: S608
        *_params(generation, scope, window),
        window.start,
        window.end,
    )
    return [(r["channel"], r["student_ref"], max(r["seconds"], 0.0)) for r in rows]


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
    extra = [now] if family == "breaches" else []
    rows = await conn.fetch(
        sql, *_params(generation, every, window), window.start, window.end, *extra
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
