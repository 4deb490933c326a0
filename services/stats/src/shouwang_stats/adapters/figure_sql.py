"""What every figure query shares: the scope and window parameters, the dimensions a count
is broken down by, and GROUPING SETS counting with distinct students beside each figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import asyncpg

from ..domain.scope import Scope
from ..domain.suppression import Count

Dimension = Literal["none", "campus", "college", "source", "instrument", "month"]

DIMENSIONS: dict[Dimension, str] = {
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
STUDENTS = (
    "LEFT JOIN students s ON s.generation = x.generation AND s.campus_id = x.campus_id"
    " AND s.student_ref = x.student_ref"
)
IN_SCOPE = (
    "x.generation = $1 AND ($2::text[] IS NULL OR x.campus_id = ANY($2))"
    " AND ($3::text[] IS NULL OR s.college = ANY($3))"
)
# The unit a row counts in (domain/linked.py): its campus and college ("" off the roster).
UNIT = "x.campus_id AS campus, coalesce(s.college, '') AS college"
# Every query takes the time zone as $4; one that reads no month still names it, or
# PostgreSQL could not tell the parameter's type.
TZ_NAMED = "AND $4::text IS NOT NULL"


def dimension(by: Dimension, at: str) -> str:
    return DIMENSIONS[by].format(at=at)


def grouped(rows: Sequence[asyncpg.Record]) -> dict[tuple[str | None, str | None], Count]:
    """Rows of (dim, col, grouping, value, students) → counts keyed like `cross_from_rows`."""
    counts: dict[tuple[str | None, str | None], Count] = {}
    for r in rows:
        bits = r["grouping"]
        dim = None if bits & 2 else r["dim"]
        col = None if bits & 1 else r["col"]
        counts[(dim, col)] = Count(r["value"], r["students"])
    return counts


def cross_sql(base: str) -> str:
    """GROUPING SETS over a base query yielding (dim, col, student_ref, weight)."""
    return f"""
        WITH base AS ({base})
        SELECT dim, col, GROUPING(dim, col) AS grouping,
               coalesce(sum(weight), 0)::bigint AS value, count(DISTINCT student_ref) AS students
        FROM base GROUP BY GROUPING SETS ((dim, col), (dim), (col), ())
    """  # noqa: S608 - composed from constants


def params(generation: int, scope: Scope, window: Window) -> list[Any]:
    return [
        generation,
        list(scope.campuses) if scope.campuses is not None else None,
        list(scope.colleges) if scope.colleges is not None else None,
        window.tz,
    ]
