"""Triage's tables through asyncpg, one transaction at a time (see `unit_of_work`)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from shouwang_contracts.auth import Placement
from shouwang_contracts.envelope import Envelope

from ..domain.evidence import ClosedCase, ReportEvidence, ScreeningEvidence
from ..domain.ladder import Assignment, OpenAlert
from ..domain.levels import Level


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


class TriageStore:
    """Reads and writes of one transaction; never commits by itself."""

    def __init__(self, conn: asyncpg.Connection) -> None:
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

    async def add_report(self, campus_id: str, student_ref: str, report: ReportEvidence) -> None:
        await self.conn.execute(
            "INSERT INTO evidence (evidence_id, campus_id, student_ref, kind, reporter_ref,"
            " reporter_role, signals, observed_at, received_at)"
            " VALUES ($1, $2, $3, 'report', $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
            report.report_id,
            campus_id,
            student_ref,
            report.reporter_ref,
            report.reporter_role,
            sorted(report.signals),
            report.observed_at,
            report.received_at,
        )

    async def add_screening(
        self, campus_id: str, student_ref: str, screening: ScreeningEvidence
    ) -> None:
        await self.conn.execute(
            "INSERT INTO evidence (evidence_id, campus_id, student_ref, kind, instrument, items,"
            " behavior_recency, counseling_requested, observed_at, received_at)"
            " VALUES ($1, $2, $3, 'screening', $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
            screening.screening_id,
            campus_id,
            student_ref,
            screening.instrument,
            list(screening.items),
            screening.behavior_recency,
            screening.counseling_requested,
            screening.administered_at,
            screening.received_at,
        )

    async def window(
        self, campus_id: str, student_ref: str, since: datetime
    ) -> tuple[tuple[ReportEvidence, ...], tuple[ScreeningEvidence, ...]]:
        """The student's reports and screenings received since `since`."""
        rows = await self.conn.fetch(
            "SELECT * FROM evidence WHERE campus_id = $1 AND student_ref = $2"
            " AND received_at >= $3",
            campus_id,
            student_ref,
            since,
        )
        reports, screenings = [], []
        for r in rows:
            if r["kind"] == "report":
                reports.append(
                    ReportEvidence(
                        report_id=r["evidence_id"],
                        reporter_ref=r["reporter_ref"],
                        reporter_role=r["reporter_role"],
                        signals=frozenset(r["signals"]),
                        observed_at=r["observed_at"],
                        received_at=r["received_at"],
                    )
                )
            else:
                screenings.append(
                    ScreeningEvidence(
                        screening_id=r["evidence_id"],
                        instrument=r["instrument"],
                        items=tuple(r["items"]),
                        administered_at=r["observed_at"],
                        received_at=r["received_at"],
                        behavior_recency=r["behavior_recency"],
                        counseling_requested=r["counseling_requested"],
                    )
                )
        return tuple(reports), tuple(screenings)

    async def closed_cases(self, campus_id: str, student_ref: str) -> tuple[ClosedCase, ...]:
        rows = await self.conn.fetch(
            "SELECT case_id, severity, closed_at FROM closed_cases"
            " WHERE campus_id = $1 AND student_ref = $2",
            campus_id,
            student_ref,
        )
        return tuple(
            ClosedCase(r["case_id"], Level.from_id(r["severity"]), r["closed_at"]) for r in rows
        )

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

    async def save_grade(
        self,
        campus_id: str,
        student_ref: str,
        *,
        severity: str,
        reasons: Sequence[dict[str, Any]],
        policy_version: str,
        assessment_id: str,
        graded_at: datetime,
    ) -> None:
        await self.conn.execute(
            "INSERT INTO grades (campus_id, student_ref, severity, reasons, policy_version,"
            " assessment_id, graded_at) VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7)"
            " ON CONFLICT (campus_id, student_ref) DO UPDATE SET severity = EXCLUDED.severity,"
            " reasons = EXCLUDED.reasons, policy_version = EXCLUDED.policy_version,"
            " assessment_id = EXCLUDED.assessment_id, graded_at = EXCLUDED.graded_at",
            campus_id,
            student_ref,
            severity,
            json.dumps(list(reasons), ensure_ascii=False),
            policy_version,
            assessment_id,
            graded_at,
        )

    # --- alerts ---------------------------------------------------------------------------

    async def open_alert(self, campus_id: str, student_ref: str) -> OpenAlert | None:
        """The student's open alert, locked so a concurrent escalation waits for us."""
        row = await self.conn.fetchrow(
            "SELECT alert_id, severity, owner_role, escalation_level, ack_deadline FROM alerts"
            " WHERE campus_id = $1 AND student_ref = $2 AND status = 'open' FOR UPDATE",
            campus_id,
            student_ref,
        )
        if row is None:
            return None
        return OpenAlert(
            row["alert_id"],
            Level.from_id(row["severity"]),
            row["owner_role"],
            row["escalation_level"],
            row["ack_deadline"],
        )

    async def insert_alert(
        self,
        *,
        alert_id: str,
        campus_id: str,
        student_ref: str,
        assessment_id: str,
        level: Level,
        assignment: Assignment,
        raised_at: datetime,
        policy_version: str,
    ) -> None:
        await self.conn.execute(
            "INSERT INTO alerts (alert_id, campus_id, student_ref, assessment_id, severity,"
            " owner_role, inform_roles, inform_external, ack_deadline, raised_at, policy_version)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            alert_id,
            campus_id,
            student_ref,
            assessment_id,
            level.id,
            assignment.owner,
            list(assignment.inform),
            list(assignment.inform_external),
            assignment.ack_deadline,
            raised_at,
            policy_version,
        )

    async def supersede_alert(self, alert_id: str, by_alert_id: str) -> None:
        await self.conn.execute(
            "UPDATE alerts SET status = 'superseded', superseded_by = $2 WHERE alert_id = $1",
            alert_id,
            by_alert_id,
        )

    async def record_lowered_grade(
        self,
        *,
        assessment_id: str,
        alert: OpenAlert,
        campus_id: str,
        student_ref: str,
        new_level: Level,
        recorded_at: datetime,
    ) -> None:
        await self.conn.execute(
            "INSERT INTO lowered_grades (assessment_id, alert_id, campus_id, student_ref,"
            " alert_severity, new_severity, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
            " ON CONFLICT DO NOTHING",
            assessment_id,
            alert.alert_id,
            campus_id,
            student_ref,
            alert.level.id,
            new_level.id,
            recorded_at,
        )

    async def acknowledge(
        self, alert_id: str, acknowledged_at: datetime, by_role: str
    ) -> str | None:
        """Stop an open alert climbing; returns its severity, or None if it was not open."""
        return await self.conn.fetchval(
            "UPDATE alerts SET status = 'acknowledged', acknowledged_at = $2,"
            " acknowledged_by_role = $3 WHERE alert_id = $1 AND status = 'open'"
            " RETURNING severity",
            alert_id,
            acknowledged_at,
            by_role,
        )

    async def lock_due_alerts(self, now: datetime, limit: int) -> list[DueAlert]:
        """Overdue open alerts, locked; rows another replica holds are skipped, not waited for."""
        rows = await self.conn.fetch(
            "SELECT alert_id, campus_id, student_ref, severity, owner_role, escalation_level,"
            " ack_deadline FROM alerts WHERE status = 'open' AND climbing AND ack_deadline <= $1"
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
            )
            for r in rows
        ]

    async def move_alert(self, alert_id: str, assignment: Assignment, level: int) -> None:
        await self.conn.execute(
            "UPDATE alerts SET owner_role = $2, inform_roles = $3, inform_external = $4,"
            " ack_deadline = $5, escalation_level = $6 WHERE alert_id = $1",
            alert_id,
            assignment.owner,
            list(assignment.inform),
            list(assignment.inform_external),
            assignment.ack_deadline,
            level,
        )

    async def stop_climbing(self, alert_id: str) -> None:
        await self.conn.execute("UPDATE alerts SET climbing = false WHERE alert_id = $1", alert_id)

    async def open_alert_counts(self) -> dict[str, int]:
        rows = await self.conn.fetch(
            "SELECT severity, count(*) AS n FROM alerts WHERE status = 'open' GROUP BY severity"
        )
        return {r["severity"]: r["n"] for r in rows}

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
        placement: Placement,
        updated_at: datetime,
    ) -> None:
        """Keep the newest placement only (the directory topic may replay older entries)."""
        await self.conn.execute(
            "INSERT INTO placements (campus_id, student_ref, active, college, class_name,"
            " building, floor, room, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            " ON CONFLICT (campus_id, student_ref) DO UPDATE SET active = EXCLUDED.active,"
            " college = EXCLUDED.college, class_name = EXCLUDED.class_name,"
            " building = EXCLUDED.building, floor = EXCLUDED.floor, room = EXCLUDED.room,"
            " updated_at = EXCLUDED.updated_at WHERE placements.updated_at <= EXCLUDED.updated_at",
            campus_id,
            student_ref,
            active,
            placement.college,
            placement.class_name,
            placement.building,
            placement.floor,
            placement.room,
            updated_at,
        )

    async def placement(self, campus_id: str, student_ref: str) -> Placement | None:
        row = await self.conn.fetchrow(
            "SELECT college, class_name, building, floor, room FROM placements"
            " WHERE campus_id = $1 AND student_ref = $2 AND active",
            campus_id,
            student_ref,
        )
        return Placement(**dict(row)) if row else None

    # --- outbox ---------------------------------------------------------------------------

    async def enqueue(self, envelope: Envelope[Any], lane: str) -> None:
        """Put an event in the outbox; the relay publishes it after this transaction commits."""
        await self.conn.execute(
            "INSERT INTO outbox (lane, event_id, topic, key, value, headers)"
            " VALUES ($1, $2, $3, $4, $5, $6::jsonb) ON CONFLICT (event_id) DO NOTHING",
            lane,
            envelope.id,
            envelope.topic,
            envelope.key,
            envelope.to_bytes(),
            json.dumps(envelope.headers()),
        )


@asynccontextmanager
async def unit_of_work(pool: asyncpg.Pool) -> AsyncIterator[TriageStore]:
    """A transaction that commits when the block ends cleanly and rolls back otherwise."""
    async with pool.acquire() as conn, conn.transaction():
        yield TriageStore(conn)
