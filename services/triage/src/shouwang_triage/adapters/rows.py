"""Rows as the batch statements read and write them (`adapters.batch`): evidence read back
from a window, and each table's row as a JSON object, an outbox row as its columns."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shouwang_contracts.envelope import Envelope

from ..domain.evidence import OBSERVED, ReportEvidence, ScreeningEvidence
from ..domain.ladder import Assignment, DueTask
from ..domain.levels import Level

Evidence = ReportEvidence | ScreeningEvidence


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
    tasks: tuple[DueTask, ...] = ()
    incomplete: bool = False
    covers: dict[str, Level] = field(default_factory=dict)
    covered_evidence: frozenset[str] = frozenset()


def evidence_of(r: Any) -> Evidence:
    if r["kind"] == "report":
        return ReportEvidence(
            r["evidence_id"],
            r["reporter_ref"],
            r["reporter_role"],
            frozenset(r["signals"]),
            r["observed_at"],
            r["received_at"],
            r["channel"] or OBSERVED,  # NULL: stored before migration 0010, observed
        )
    return ScreeningEvidence(
        r["evidence_id"],
        r["instrument"],
        tuple(r["items"]),
        r["observed_at"],
        r["received_at"],
        r["behavior_recency"],
        r["counseling_requested"],
        frozenset(r["unanswered"]),
        tuple(r["unreadable"]),
    )


def evidence_row(campus_id: str, student_ref: str, e: Evidence) -> dict[str, Any]:
    common = {"campus_id": campus_id, "student_ref": student_ref}
    if isinstance(e, ReportEvidence):
        return {
            **common,
            "evidence_id": e.report_id,
            "kind": "report",
            "reporter_ref": e.reporter_ref,
            "reporter_role": e.reporter_role,
            "channel": e.channel,
            "signals": sorted(e.signals),
            "observed_at": e.observed_at.isoformat(),
            "received_at": e.received_at.isoformat(),
            "unanswered": [],
            "unreadable": [],
        }
    return {
        **common,
        "evidence_id": e.screening_id,
        "kind": "screening",
        "signals": [],
        "instrument": e.instrument,
        "items": list(e.items),
        "behavior_recency": e.behavior_recency,
        "counseling_requested": e.counseling_requested,
        "observed_at": e.administered_at.isoformat(),
        "received_at": e.received_at.isoformat(),
        "unanswered": sorted(e.unanswered),
        "unreadable": list(e.unreadable),
    }


def grade_row(
    campus_id: str,
    student_ref: str,
    severity: str,
    reasons: list[dict[str, Any]],
    policy_version: str,
    assessment_id: str,
    graded_at: datetime,
) -> dict[str, Any]:
    return {
        "campus_id": campus_id,
        "student_ref": student_ref,
        "severity": severity,
        "reasons": reasons,
        "policy_version": policy_version,
        "assessment_id": assessment_id,
        "graded_at": graded_at.isoformat(),
    }


def alert_row(a: NewAlert) -> dict[str, Any]:
    return {
        "alert_id": a.alert_id,
        "campus_id": a.campus_id,
        "student_ref": a.student_ref,
        "assessment_id": a.assessment_id,
        "severity": a.level.id,
        "owner_role": a.assignment.owner,
        "inform_roles": list(a.assignment.inform),
        "inform_external": list(a.assignment.inform_external),
        "ack_deadline": a.assignment.ack_deadline.isoformat(),
        "raised_at": a.raised_at.isoformat(),
        "policy_version": a.policy_version,
        "status": "superseded" if a.superseded_by else "open",
        "superseded_by": a.superseded_by,
        "follow_up_tasks": [task_row(t) for t in a.tasks],
        "incomplete_sheet": a.incomplete,
        "covers": {kind: level.id for kind, level in a.covers.items()},
        "covered_evidence": sorted(a.covered_evidence),
    }


def task_row(t: DueTask) -> dict[str, str]:
    """A follow-up task as the alerts table keeps it (JSON)."""
    return {"task": t.task, "role": t.role, "due_at": t.due_at.isoformat()}


def lowered_row(
    assessment_id: str,
    alert_id: str,
    campus_id: str,
    student_ref: str,
    alert_severity: str,
    new_severity: str,
    recorded_at: datetime,
) -> dict[str, Any]:
    return {
        "assessment_id": assessment_id,
        "alert_id": alert_id,
        "campus_id": campus_id,
        "student_ref": student_ref,
        "alert_severity": alert_severity,
        "new_severity": new_severity,
        "recorded_at": recorded_at.isoformat(),
    }


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
