"""Durations, case by case: each case's milestones and each notification's time to delivery,
for percentiles (domain/percentiles.py) rather than counts.
"""

from __future__ import annotations

from ..domain.figures import Milestone, Timeline
from ..domain.scope import Scope
from .db import Conn
from .figure_sql import IN_SCOPE, STUDENTS, TZ_NAMED, Window, params


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
        FROM cases x {STUDENTS}
        LEFT JOIN assessments a
               ON a.generation = x.generation AND a.assessment_id = x.assessment_id
        WHERE {IN_SCOPE} AND x.opened_at >= $5 AND x.opened_at < $6
          AND x.severity IN ('mild', 'moderate', 'severe', 'critical')
        """,  # noqa: S608
        *params(generation, scope, window),
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


async def delivery_seconds(
    conn: Conn, generation: int, scope: Scope, window: Window
) -> list[tuple[str, str, float]]:
    """(channel, student_ref, seconds from queued to delivered) for delivered notifications."""
    rows = await conn.fetch(
        f"""
        SELECT x.channel, x.student_ref,
               extract(epoch FROM x.finished_at - x.created_at)::float8 AS seconds
        FROM notifications x {STUDENTS}
        WHERE {IN_SCOPE} AND x.outcome = 'delivered'
          AND x.created_at >= $5 AND x.created_at < $6 {TZ_NAMED}
        """,  # noqa: S608
        *params(generation, scope, window),
        window.start,
        window.end,
    )
    return [(r["channel"], r["student_ref"], max(r["seconds"], 0.0)) for r in rows]
