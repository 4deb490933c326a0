"""Set-based reads and writes for grading many inputs in one transaction (a census batch).

Grading a batch costs three statements whatever its size: `begin` locks its students, then
claims the event ids and reads their situations (locking their open alerts), `save` writes
evidence, grades, alerts, released held alerts, lowered grades and outbox rows together. A
single tier report goes the same way, as a batch of one: under load each round trip to
PostgreSQL waits for CPU twice (ours and the server's), so it keeps to the fewest that are safe.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..domain.evidence import ClosedCase
from ..domain.ladder import OpenAlert
from ..domain.levels import Level
from ..domain.realerts import HeldAlert
from .repository import Connection
from .rows import (
    Evidence,
    NewAlert,
    alert_row,
    evidence_of,
    evidence_row,
    grade_row,
    lowered_row,
)

StudentKey = tuple[str, str]  # (campus_id, student_ref)


@dataclass(slots=True)
class Situations:
    """What the store knew about a batch's students before the batch, read in one statement."""

    fresh: set[str]  # event ids not processed before (now claimed)
    stored_evidence: set[str]  # the inputs' evidence ids already stored, of any age
    windows: dict[StudentKey, list[Evidence]]
    closed: dict[StudentKey, tuple[ClosedCase, ...]]
    levels: dict[StudentKey, Level]
    open_alerts: dict[StudentKey, OpenAlert]  # locked until the transaction ends
    # The latest acknowledged alert still held (not superseded, its case not seen closed);
    # an acknowledgement may name a case closed before it: the caller judges against `closed`.
    held: dict[StudentKey, HeldAlert] = field(default_factory=dict)
    # When each erased student was erased (`adapters.erasure`), while the mark lasts.
    erased: dict[StudentKey, datetime] = field(default_factory=dict)


@dataclass
class GradingWrites:
    """Everything a batch writes, saved in one statement after the batch is graded."""

    evidence: list[tuple[str, str, Evidence]] = field(default_factory=list)
    grades: dict[StudentKey, tuple[Any, ...]] = field(default_factory=dict)
    outbox: list[tuple[Any, ...]] = field(default_factory=list)
    alerts: dict[str, NewAlert] = field(default_factory=dict)
    superseded: list[tuple[str, str]] = field(default_factory=list)
    # (campus_id, student_ref, new alert id): the student's held alerts end here.
    released: list[tuple[str, str, str]] = field(default_factory=list)
    lowered: list[tuple[Any, ...]] = field(default_factory=list)


def _keys(keys: Iterable[StudentKey]) -> tuple[list[str], list[str]]:
    pairs = sorted(set(keys))
    return [c for c, _ in pairs], [s for _, s in pairs]


# Transaction locks in ascending key order (no two batches wait for each other); the key is
# the student's 64-bit hash (two students sharing one only ever wait for each other).
_LOCK_STUDENTS = """
SELECT pg_advisory_xact_lock(k) FROM (
    SELECT DISTINCT hashtextextended(c || ':' || s, 7468) AS k
    FROM unnest($1::text[], $2::text[]) AS x (c, s)
    ORDER BY k
) AS keys
"""


_BEGIN = """
WITH claimed AS (
    INSERT INTO processed_events (event_id, topic)
    SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING RETURNING event_id
), students AS (
    SELECT * FROM unnest($3::text[], $4::text[]) AS s (campus_id, student_ref)
)
SELECT
    ARRAY(SELECT event_id FROM claimed) AS claimed,
    ARRAY(SELECT evidence_id FROM evidence WHERE evidence_id = ANY($5::text[])) AS stored,
    ARRAY(SELECT e FROM evidence e WHERE (e.campus_id, e.student_ref) IN (SELECT * FROM students)
          AND e.received_at >= $6) AS window,
    ARRAY(SELECT c FROM closed_cases c
          WHERE (c.campus_id, c.student_ref) IN (SELECT * FROM students)) AS closed,
    ARRAY(SELECT (g.campus_id, g.student_ref, g.severity) FROM grades g
          WHERE (g.campus_id, g.student_ref) IN (SELECT * FROM students)) AS grades,
    ARRAY(SELECT a FROM alerts a
          WHERE (a.campus_id, a.student_ref) IN (SELECT * FROM students) AND a.status = 'open'
          ORDER BY a.alert_id FOR UPDATE) AS open_alerts,
    ARRAY(SELECT (a.campus_id, a.student_ref, a.alert_id, a.severity, a.acknowledged_at,
                  a.case_id, a.covers, a.covered_evidence) FROM alerts a
          WHERE (a.campus_id, a.student_ref) IN (SELECT * FROM students) AND a.held) AS held,
    ARRAY(SELECT (m.campus_id, m.student_ref, m.erased_at) FROM erasure_marks m
          WHERE (m.campus_id, m.student_ref) IN (SELECT * FROM students)) AS erased
"""

# Rows with array or JSON columns travel as one JSON document per table; the outbox's bytes as
# arrays, inserted in the given order so the relay publishes them in that order. Foreign keys
# are checked at the end of the statement, so a lowered grade may name an alert raised earlier
# in the same batch.
_SAVE = """
WITH new_evidence AS (
    INSERT INTO evidence (evidence_id, campus_id, student_ref, kind, reporter_ref, reporter_role,
                          channel, signals, instrument, items, behavior_recency,
                          counseling_requested, observed_at, received_at, unanswered, unreadable)
    SELECT * FROM jsonb_to_recordset($1::jsonb) AS x (
        evidence_id text, campus_id text, student_ref text, kind text, reporter_ref text,
        reporter_role text, channel text, signals text[], instrument text, items smallint[],
        behavior_recency text, counseling_requested boolean, observed_at timestamptz,
        received_at timestamptz, unanswered smallint[], unreadable text[])
    ON CONFLICT DO NOTHING
), new_grades AS (
    INSERT INTO grades (campus_id, student_ref, severity, reasons, policy_version, assessment_id,
                        graded_at)
    SELECT * FROM jsonb_to_recordset($2::jsonb) AS x (
        campus_id text, student_ref text, severity text, reasons jsonb, policy_version text,
        assessment_id text, graded_at timestamptz)
    ON CONFLICT (campus_id, student_ref) DO UPDATE SET severity = EXCLUDED.severity,
        reasons = EXCLUDED.reasons, policy_version = EXCLUDED.policy_version,
        assessment_id = EXCLUDED.assessment_id, graded_at = EXCLUDED.graded_at
), new_alerts AS (
    INSERT INTO alerts (alert_id, campus_id, student_ref, assessment_id, severity, owner_role,
                        inform_roles, inform_external, ack_deadline, raised_at, policy_version,
                        status, superseded_by, follow_up_tasks, incomplete_sheet, covers,
                        covered_evidence)
    SELECT * FROM jsonb_to_recordset($3::jsonb) AS x (
        alert_id text, campus_id text, student_ref text, assessment_id text, severity text,
        owner_role text, inform_roles text[], inform_external text[], ack_deadline timestamptz,
        raised_at timestamptz, policy_version text, status text, superseded_by text,
        follow_up_tasks jsonb, incomplete_sheet boolean, covers jsonb, covered_evidence text[])
), released AS (
    UPDATE alerts a SET held = false, superseded_by = x.alert_id
    FROM jsonb_to_recordset($11::jsonb) AS x (campus_id text, student_ref text, alert_id text)
    WHERE a.campus_id = x.campus_id AND a.student_ref = x.student_ref AND a.held
), new_lowered AS (
    INSERT INTO lowered_grades (assessment_id, alert_id, campus_id, student_ref, alert_severity,
                                new_severity, recorded_at)
    SELECT * FROM jsonb_to_recordset($4::jsonb) AS x (
        assessment_id text, alert_id text, campus_id text, student_ref text,
        alert_severity text, new_severity text, recorded_at timestamptz)
    ON CONFLICT DO NOTHING
)
INSERT INTO outbox (lane, event_id, topic, key, value, headers)
SELECT lane, event_id, topic, key, value, headers
FROM unnest($5::text[], $6::text[], $7::text[], $8::bytea[], $9::bytea[], $10::jsonb[])
     WITH ORDINALITY AS x (lane, event_id, topic, key, value, headers, position)
ORDER BY position
ON CONFLICT (event_id) DO NOTHING
"""


class BatchStore:
    """The batch half of the store, on the same connection and transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def begin(
        self,
        events: Sequence[tuple[str, str]],
        keys: Iterable[StudentKey],
        evidence_ids: Sequence[str],
        since: datetime,
    ) -> Situations:
        """Claim the events (mark them processed) and read their students' situations.

        First the students' locks (`lock_students`), then each student's evidence received
        since `since`, closed cases, current grade, open alert (row-locked too, so a
        concurrent escalation waits for this batch) and erasure mark, in one statement: an
        erasure applied before the lock was taken is seen, one applied later waits.
        """
        campuses, students = _keys(keys)
        await self.lock_students(campuses, students)
        row = await self.conn.fetchrow(
            _BEGIN,
            [e for e, _ in events],
            [t for _, t in events],
            campuses,
            students,
            list(evidence_ids),
            since,
        )
        assert row is not None
        windows: dict[StudentKey, list[Evidence]] = defaultdict(list)
        for r in row["window"]:
            windows[(r["campus_id"], r["student_ref"])].append(evidence_of(r))
        closed: dict[StudentKey, list[ClosedCase]] = defaultdict(list)
        for r in row["closed"]:
            closed[(r["campus_id"], r["student_ref"])].append(
                ClosedCase(r["case_id"], Level.from_id(r["severity"]), r["closed_at"])
            )
        return Situations(
            fresh=set(row["claimed"]),
            stored_evidence=set(row["stored"]),
            windows=windows,
            closed={k: tuple(v) for k, v in closed.items()},
            levels={(c, s): Level.from_id(severity) for c, s, severity in row["grades"]},
            open_alerts={
                (r["campus_id"], r["student_ref"]): OpenAlert(
                    r["alert_id"],
                    Level.from_id(r["severity"]),
                    r["owner_role"],
                    r["escalation_level"],
                    r["ack_deadline"],
                )
                for r in row["open_alerts"]
            },
            held=_latest_held(row["held"]),
            erased={(c, s): erased_at for c, s, erased_at in row["erased"]},
        )

    async def lock_students(self, campuses: list[str], students: list[str]) -> None:
        """Another batch about one of the students (a census batch, a report), or their erasure
        (`adapters.erasure`), waits for this one to commit, then reads what it committed. A
        statement of its own, before the read: a statement reads as of its start, so a read that
        waited inside it would miss what it waited for (a report graded without the census
        sheet, or its alert refused beside the census's new one by the one-open-alert index)."""
        await self.conn.execute(_LOCK_STUDENTS, campuses, students)

    async def save(self, writes: GradingWrites) -> None:
        """Write a graded batch: superseded alerts first (one open alert per student), then
        evidence, grades, new alerts, lowered grades and outbox rows in one statement."""
        if writes.superseded:
            await self.conn.executemany(
                "UPDATE alerts SET status = 'superseded', superseded_by = $2 WHERE alert_id = $1",
                writes.superseded,
            )
        outbox = list(zip(*writes.outbox, strict=True)) or [()] * 6
        await self.conn.execute(
            _SAVE,
            json.dumps([evidence_row(c, s, e) for c, s, e in writes.evidence]),
            json.dumps([grade_row(*row) for row in writes.grades.values()]),
            json.dumps([alert_row(a) for a in writes.alerts.values()]),
            json.dumps([lowered_row(*row) for row in writes.lowered]),
            *(list(column) for column in outbox),
            json.dumps(
                [{"campus_id": c, "student_ref": s, "alert_id": a} for c, s, a in writes.released]
            ),
        )


def _latest_held(rows: Iterable[Any]) -> dict[StudentKey, HeldAlert]:
    """Per student, the most recently acknowledged of the held alerts (alerts acknowledged
    before migration 0004 may leave more than one)."""
    held: dict[StudentKey, HeldAlert] = {}
    for campus, student, alert_id, severity, acknowledged_at, case_id, covers, seen in sorted(
        rows, key=lambda r: (r[4], r[2])
    ):
        kinds = json.loads(covers) if isinstance(covers, str) else covers  # jsonb in a row: text
        held[(campus, student)] = HeldAlert(
            alert_id,
            Level.from_id(severity),
            acknowledged_at,
            case_id,
            {kind: Level.from_id(level) for kind, level in kinds.items()},
            frozenset(seen),
        )
    return held
