"""Set-based reads and writes for grading many inputs in one transaction (a census batch).

A census batch of a few hundred rows costs a dozen round trips instead of a dozen per row;
a single tier report goes the same way, as a batch of one.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shouwang_contracts.envelope import Envelope

from ..domain.evidence import ClosedCase, ReportEvidence, ScreeningEvidence
from ..domain.ladder import Assignment, OpenAlert
from ..domain.levels import Level
from .repository import Connection

StudentKey = tuple[str, str]  # (campus_id, student_ref)


@dataclass(slots=True)
class NewAlert:
    """An alert to insert; a later input of the same batch may supersede it before insertion."""

    alert_id: str
    campus_id: str
    student_ref: str
    assessment_id: str
    level: Level
    assignment: Assignment
    raised_at: datetime
    policy_version: str
    superseded_by: str | None = None


def _keys(keys: Iterable[StudentKey]) -> tuple[list[str], list[str]]:
    pairs = sorted(set(keys))
    return [c for c, _ in pairs], [s for _, s in pairs]


class BatchStore:
    """The batch half of the store, on the same connection and transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def claim_events(self, events: Sequence[tuple[str, str]]) -> set[str]:
        """Mark events processed; returns the ids that were not processed before."""
        rows = await self.conn.fetch(
            "INSERT INTO processed_events (event_id, topic)"
            " SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING RETURNING event_id",
            [e for e, _ in events],
            [t for _, t in events],
        )
        return {r["event_id"] for r in rows}

    async def add_evidence(
        self, rows: Sequence[tuple[str, str, ReportEvidence | ScreeningEvidence]]
    ) -> None:
        records: list[tuple[Any, ...]] = []
        for campus_id, student_ref, e in rows:
            if isinstance(e, ReportEvidence):
                records.append(
                    (
                        e.report_id,
                        campus_id,
                        student_ref,
                        "report",
                        e.reporter_ref,
                        e.reporter_role,
                        sorted(e.signals),
                        None,
                        None,
                        None,
                        None,
                        e.observed_at,
                        e.received_at,
                    )
                )
            else:
                records.append(
                    (
                        e.screening_id,
                        campus_id,
                        student_ref,
                        "screening",
                        None,
                        None,
                        [],
                        e.instrument,
                        list(e.items),
                        e.behavior_recency,
                        e.counseling_requested,
                        e.administered_at,
                        e.received_at,
                    )
                )
        await self.conn.executemany(
            "INSERT INTO evidence (evidence_id, campus_id, student_ref, kind, reporter_ref,"
            " reporter_role, signals, instrument, items, behavior_recency, counseling_requested,"
            " observed_at, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
            " $12, $13) ON CONFLICT DO NOTHING",
            records,
        )

    async def windows(
        self, keys: Iterable[StudentKey], since: datetime
    ) -> dict[StudentKey, list[ReportEvidence | ScreeningEvidence]]:
        """Each student's evidence received since `since`."""
        campuses, students = _keys(keys)
        rows = await self.conn.fetch(
            "SELECT * FROM evidence WHERE (campus_id, student_ref) IN (SELECT * FROM unnest($1::text[], $2::text[])) AND received_at >= $3",
            campuses,
            students,
            since,
        )
        found: dict[StudentKey, list[ReportEvidence | ScreeningEvidence]] = defaultdict(list)
        for r in rows:
            key = (r["campus_id"], r["student_ref"])
            if r["kind"] == "report":
                found[key].append(
                    ReportEvidence(
                        r["evidence_id"],
                        r["reporter_ref"],
                        r["reporter_role"],
                        frozenset(r["signals"]),
                        r["observed_at"],
                        r["received_at"],
                    )
                )
            else:
                found[key].append(
                    ScreeningEvidence(
                        r["evidence_id"],
                        r["instrument"],
                        tuple(r["items"]),
                        r["observed_at"],
                        r["received_at"],
                        r["behavior_recency"],
                        r["counseling_requested"],
                    )
                )
        return found

    async def closed_cases(
        self, keys: Iterable[StudentKey]
    ) -> dict[StudentKey, tuple[ClosedCase, ...]]:
        campuses, students = _keys(keys)
        rows = await self.conn.fetch(
            "SELECT campus_id, student_ref, case_id, severity, closed_at FROM closed_cases WHERE (campus_id, student_ref) IN (SELECT * FROM unnest($1::text[], $2::text[]))",
            campuses,
            students,
        )
        found: dict[StudentKey, list[ClosedCase]] = defaultdict(list)
        for r in rows:
            found[(r["campus_id"], r["student_ref"])].append(
                ClosedCase(r["case_id"], Level.from_id(r["severity"]), r["closed_at"])
            )
        return {k: tuple(v) for k, v in found.items()}

    async def grades(self, keys: Iterable[StudentKey]) -> dict[StudentKey, Level]:
        campuses, students = _keys(keys)
        rows = await self.conn.fetch(
            "SELECT campus_id, student_ref, severity FROM grades WHERE (campus_id, student_ref) IN (SELECT * FROM unnest($1::text[], $2::text[]))",
            campuses,
            students,
        )
        return {(r["campus_id"], r["student_ref"]): Level.from_id(r["severity"]) for r in rows}

    async def open_alerts(self, keys: Iterable[StudentKey]) -> dict[StudentKey, OpenAlert]:
        """The students' open alerts, locked so a concurrent escalation waits for this batch."""
        campuses, students = _keys(keys)
        rows = await self.conn.fetch(
            "SELECT campus_id, student_ref, alert_id, severity, owner_role, escalation_level,"
            " ack_deadline FROM alerts WHERE (campus_id, student_ref) IN (SELECT * FROM unnest($1::text[], $2::text[])) AND status = 'open'"
            " ORDER BY alert_id FOR UPDATE",
            campuses,
            students,
        )
        return {
            (r["campus_id"], r["student_ref"]): OpenAlert(
                r["alert_id"],
                Level.from_id(r["severity"]),
                r["owner_role"],
                r["escalation_level"],
                r["ack_deadline"],
            )
            for r in rows
        }

    async def save_grades(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """(campus, student, severity, reasons, policy_version, assessment_id, graded_at)."""
        await self.conn.executemany(
            "INSERT INTO grades (campus_id, student_ref, severity, reasons, policy_version,"
            " assessment_id, graded_at) VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7)"
            " ON CONFLICT (campus_id, student_ref) DO UPDATE SET severity = EXCLUDED.severity,"
            " reasons = EXCLUDED.reasons, policy_version = EXCLUDED.policy_version,"
            " assessment_id = EXCLUDED.assessment_id, graded_at = EXCLUDED.graded_at",
            [
                (c, s, sev, json.dumps(reasons, ensure_ascii=False), v, a, t)
                for c, s, sev, reasons, v, a, t in rows
            ],
        )

    async def supersede(self, pairs: Sequence[tuple[str, str]]) -> None:
        """(old alert, new alert): the old one stops climbing."""
        await self.conn.executemany(
            "UPDATE alerts SET status = 'superseded', superseded_by = $2 WHERE alert_id = $1",
            pairs,
        )

    async def insert_alerts(self, alerts: Sequence[NewAlert]) -> None:
        await self.conn.executemany(
            "INSERT INTO alerts (alert_id, campus_id, student_ref, assessment_id, severity,"
            " owner_role, inform_roles, inform_external, ack_deadline, raised_at, policy_version,"
            " status, superseded_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            [
                (
                    a.alert_id,
                    a.campus_id,
                    a.student_ref,
                    a.assessment_id,
                    a.level.id,
                    a.assignment.owner,
                    list(a.assignment.inform),
                    list(a.assignment.inform_external),
                    a.assignment.ack_deadline,
                    a.raised_at,
                    a.policy_version,
                    "superseded" if a.superseded_by else "open",
                    a.superseded_by,
                )
                for a in alerts
            ],
        )

    async def record_lowered(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """(assessment, alert, campus, student, alert severity, new severity, at)."""
        await self.conn.executemany(
            "INSERT INTO lowered_grades (assessment_id, alert_id, campus_id, student_ref,"
            " alert_severity, new_severity, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
            " ON CONFLICT DO NOTHING",
            rows,
        )

    async def enqueue(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Outbox rows (see `outbox_row`) in order; the relay publishes them after commit."""
        await self.conn.executemany(
            "INSERT INTO outbox (lane, event_id, topic, key, value, headers)"
            " VALUES ($1, $2, $3, $4, $5, $6::jsonb) ON CONFLICT (event_id) DO NOTHING",
            rows,
        )


def outbox_row(envelope: Envelope[Any], lane: str) -> tuple[Any, ...]:
    """An event serialised for the outbox (done as each event is made, in small steps)."""
    return (
        lane,
        envelope.id,
        envelope.topic,
        envelope.key,
        envelope.to_bytes(),
        json.dumps(envelope.headers()),
    )
