"""Triage's tables through asyncpg, one transaction at a time (see `unit_of_work`)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from shouwang_contracts.envelope import Envelope

from ..domain.ladder import Assignment, DueTask
from ..domain.levels import Level
from .outbox import TABLE as OUTBOX


@dataclass(frozen=True, slots=True)
class StoredGrade:
    """A student's current grade as the HTTP API shows it."""

    severity: str
    reasons: list[dict[str, Any]]
    policy_version: str
    assessment_id: str
    graded_at: datetime


@dataclass(frozen=True, slots=True)
class DueAlert:
    """An open alert whose deadline passed, locked for this transaction."""

    alert_id: str
    campus_id: str
    student_ref: str
    level: Level
    owner: str
    escalation_level: int
    ack_deadline: datetime
    realert_attempt: int = 0
    tasks: tuple[DueTask, ...] = ()
    incomplete: bool = False


# A pooled connection or a plain one: both speak the same API.
Connection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy


@dataclass(frozen=True, slots=True)
class PlacedStudent:
    """A student's placement as the directory stream carries it."""

    college: str | None
    placement_refs: frozenset[str]


class TriageStore:
    """Reads and writes of one transaction; never commits by itself."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # --- idempotency ----------------------------------------------------------------------

    async def claim_event(self, event_id: str, topic: str) -> bool:
        """Record an event as processed; False when it already was (a duplicate)."""
        row = await self.conn.fetchval(
            "INSERT INTO processed_events (event_id, topic) VALUES ($1, $2) "
            "ON CONFLICT DO NOTHING RETURNING 1",
            event_id,
            topic,
        )
        return row is not None

    # --- evidence -------------------------------------------------------------------------

    async def record_closed_case(
        self, case_id: str, campus_id: str, student_ref: str, severity: str, closed_at: datetime
    ) -> None:
        await self.conn.execute(
            "INSERT INTO closed_cases (case_id, campus_id, student_ref, severity, closed_at)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (case_id) DO UPDATE"
            " SET severity = EXCLUDED.severity, closed_at = EXCLUDED.closed_at",
            case_id,
            campus_id,
            student_ref,
            severity,
            closed_at,
        )

    async def release_held(
        self, campus_id: str, student_ref: str, case_id: str, closed_at: datetime
    ) -> None:
        """A closed case ends the holding of its acknowledged alerts, and of any acknowledged
        before the closure (one active case per student)."""
        await self.conn.execute(
            "UPDATE alerts SET held = false WHERE campus_id = $1 AND student_ref = $2 AND held"
            " AND (case_id = $3 OR acknowledged_at <= $4)",
            campus_id,
            student_ref,
            case_id,
            closed_at,
        )

    async def prune_evidence(self, before: datetime) -> int:
        """Forget evidence older than every window; returns how many rows went."""
        status = await self.conn.execute("DELETE FROM evidence WHERE received_at < $1", before)
        return int(status.split()[-1])

    # --- grades ---------------------------------------------------------------------------

    async def current_grade(self, campus_id: str, student_ref: str) -> StoredGrade | None:
        row = await self.conn.fetchrow(
            "SELECT severity, reasons, policy_version, assessment_id, graded_at FROM grades"
            " WHERE campus_id = $1 AND student_ref = $2",
            campus_id,
            student_ref,
        )
        if row is None:
            return None
        return StoredGrade(
            row["severity"],
            json.loads(row["reasons"]),
            row["policy_version"],
            row["assessment_id"],
            row["graded_at"],
        )

    async def acknowledge(
        self, alert_id: str, acknowledged_at: datetime, by_role: str, case_id: str | None = None
    ) -> str | None:
        """Stop an open alert climbing; returns its severity, or None if it was not open.

        From now on it is held: it covers the student's later grades while `case_id` (the case
        the acknowledgement named) stays open, until a newer alert supersedes it.
        """
        severity: str | None = await self.conn.fetchval(
            "UPDATE alerts SET status = 'acknowledged', acknowledged_at = $2,"
            " acknowledged_by_role = $3, case_id = $4, held = true"
            " WHERE alert_id = $1 AND status = 'open' RETURNING severity",
            alert_id,
            acknowledged_at,
            by_role,
            case_id,
        )
        return severity

    async def lock_due_alerts(self, now: datetime, limit: int) -> list[DueAlert]:
        """Overdue open alerts, locked; rows another replica holds are skipped, not waited for."""
        rows = await self.conn.fetch(
            "SELECT alert_id, campus_id, student_ref, severity, owner_role, escalation_level,"
            " ack_deadline, realert_attempt, follow_up_tasks, incomplete_sheet FROM alerts"
            " WHERE status = 'open' AND climbing AND ack_deadline <= $1"
            " ORDER BY ack_deadline LIMIT $2 FOR UPDATE SKIP LOCKED",
            now,
            limit,
        )
        return [
            DueAlert(
                r["alert_id"],
                r["campus_id"],
                r["student_ref"],
                Level.from_id(r["severity"]),
                r["owner_role"],
                r["escalation_level"],
                r["ack_deadline"],
                r["realert_attempt"],
                tuple(
                    DueTask(t["task"], t["role"], datetime.fromisoformat(t["due_at"]))
                    for t in json.loads(r["follow_up_tasks"])
                ),
                r["incomplete_sheet"],
            )
            for r in rows
        ]

    async def move_alert(self, alert_id: str, assignment: Assignment, level: int) -> None:
        """The alert's new owner and deadline (one rung up, or a re-alert at the top)."""
        await self.conn.execute(
            "UPDATE alerts SET owner_role = $2, inform_roles = $3, inform_external = $4,"
            " ack_deadline = $5, escalation_level = $6, realert_attempt = $7"
            " WHERE alert_id = $1",
            alert_id,
            assignment.owner,
            list(assignment.inform),
            list(assignment.inform_external),
            assignment.ack_deadline,
            level,
            assignment.realert_attempt,
        )

    async def stop_climbing(self, alert_id: str) -> None:
        await self.conn.execute("UPDATE alerts SET climbing = false WHERE alert_id = $1", alert_id)

    async def open_alert_counts(self) -> dict[tuple[str, str], int]:
        """Open alerts by (campus, severity)."""
        rows = await self.conn.fetch(
            "SELECT campus_id, severity, count(*) AS n FROM alerts WHERE status = 'open'"
            " GROUP BY campus_id, severity"
        )
        return {(r["campus_id"], r["severity"]): r["n"] for r in rows}

    async def known_campuses(self) -> list[str]:
        """Every campus triage has graded a student of."""
        rows = await self.conn.fetch("SELECT DISTINCT campus_id FROM grades")
        return [r["campus_id"] for r in rows]

    async def alert_row(self, alert_id: str) -> dict[str, Any] | None:
        row = await self.conn.fetchrow("SELECT * FROM alerts WHERE alert_id = $1", alert_id)
        return dict(row) if row else None

    async def open_alert_row(self, campus_id: str, student_ref: str) -> dict[str, Any] | None:
        row = await self.conn.fetchrow(
            "SELECT * FROM alerts WHERE campus_id = $1 AND student_ref = $2 AND status = 'open'",
            campus_id,
            student_ref,
        )
        return dict(row) if row else None

    # --- placements -----------------------------------------------------------------------

    async def save_placement(
        self,
        campus_id: str,
        student_ref: str,
        active: bool,
        placed: PlacedStudent,
        updated_at: datetime,
    ) -> None:
        """Keep the newest placement only (the directory topic may replay older entries)."""
        await self.conn.execute(
            "INSERT INTO placements (campus_id, student_ref, active, college, placement_refs,"
            " updated_at) VALUES ($1, $2, $3, $4, $5, $6)"
            " ON CONFLICT (campus_id, student_ref) DO UPDATE SET active = EXCLUDED.active,"
            " college = EXCLUDED.college, placement_refs = EXCLUDED.placement_refs,"
            " updated_at = EXCLUDED.updated_at WHERE placements.updated_at <= EXCLUDED.updated_at",
            campus_id,
            student_ref,
            active,
            placed.college,
            list(placed.placement_refs),
            updated_at,
        )

    async def record_grade_read(
        self,
        campus_id: str,
        *,
        principal_sub: str,
        token_id: str | None,
        role: str,
        student_ref: str,
        refused: str | None = None,
    ) -> None:
        """Append one read of a grade (or its refusal, `refused` = the code) to grade_reads."""
        await self.conn.execute(
            "INSERT INTO grade_reads (campus_id, principal_sub, token_id, role, student_ref,"
            " action, reason) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            campus_id,
            principal_sub,
            token_id,
            role,
            student_ref,
            "grade.read.refused" if refused else "grade.read",
            refused,
        )

    async def placement(self, campus_id: str, student_ref: str) -> PlacedStudent | None:
        """Where an active student is placed, as the directory says it: the college, and
        keyed hashes of the finer placement."""
        row = await self.conn.fetchrow(
            "SELECT college, placement_refs FROM placements"
            " WHERE campus_id = $1 AND student_ref = $2 AND active",
            campus_id,
            student_ref,
        )
        if row is None:
            return None
        return PlacedStudent(row["college"], frozenset(row["placement_refs"]))

    # --- outbox ---------------------------------------------------------------------------

    async def enqueue(self, envelope: Envelope[Any], lane: str) -> None:
        """Put an event in the outbox; the relay publishes it after this transaction commits."""
        await OUTBOX.enqueue(self.conn, [envelope], lane=lane)


class QuietConnection(asyncpg.Connection):
    """Triage never changes session state (no SET, LISTEN, cursors or session-level advisory
    locks; the relay's lock ends with its transaction), so a connection going back to the pool
    needs no RESET round trip: under load that round trip sat between a report's commit and
    the relay publishing its alert."""

    def get_reset_query(self) -> str:
        return ""


@asynccontextmanager
async def unit_of_work(pool: asyncpg.Pool) -> AsyncIterator[TriageStore]:
    """A transaction that commits when the block ends cleanly and rolls back otherwise."""
    async with pool.acquire() as conn, conn.transaction():
        yield TriageStore(conn)
