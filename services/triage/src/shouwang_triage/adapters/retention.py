"""Retention of grades: a student's grade ends with the evidence it rests on.

A grade rests on the reports and screenings in the policy's windows; once it was graded
before every window (`policy.retention`, when housekeeping forgets that evidence too) it
describes nothing the policy still sees, and only its reasons and severity are left. It is
kept while the student's matter is open: an alert waiting for acknowledgement, or one
acknowledged whose case is not closed (`held`); casework's staff read the current grade of
the student whose alert or case they hold (`GET /v1/students/{ref}/grade`, with the open
alert). Casework keeps its own copy of each assessment in the student's file, and the
assessment events stay on `shouwang.assessments.v1` for stats: nothing else reads these rows.
"""

from __future__ import annotations

from datetime import datetime

from .repository import Connection

# The batch is picked once, in a materialised CTE: a `key IN (SELECT … LIMIT n)` subquery may
# be run again by the planner and delete more than `n` rows. Two NOT EXISTS, one per partial
# index of alerts (`alerts_one_open`, `alerts_held`).
_PRUNE_GRADES = """
WITH d AS MATERIALIZED (
    SELECT g.campus_id, g.student_ref FROM grades g
    WHERE g.graded_at < $1
      AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.campus_id = g.campus_id
                      AND a.student_ref = g.student_ref AND a.status = 'open')
      AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.campus_id = g.campus_id
                      AND a.student_ref = g.student_ref AND a.held)
    ORDER BY g.graded_at LIMIT $2 FOR UPDATE OF g SKIP LOCKED)
DELETE FROM grades g USING d WHERE g.campus_id = d.campus_id AND g.student_ref = d.student_ref
"""


async def prune_grades(conn: Connection, before: datetime, batch: int) -> int:
    """Delete up to `batch` grades graded before `before`, the oldest first, of students with
    no open matter; how many went."""
    status = await conn.execute(_PRUNE_GRADES, before, batch)
    return int(status.split()[-1])
