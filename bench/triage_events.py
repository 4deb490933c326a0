"""Triage's events as the benches feed them to casework (a helper, not a benchmark)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events.triage import AlertRaised, AssessmentGraded, Reason
from shouwang_contracts.vocabulary import Role, Severity

SOURCE = "/shouwang/triage"


def moderate_warning(
    campus: str, student_ref: str
) -> tuple[Envelope[AssessmentGraded], Envelope[AlertRaised]]:
    """A moderate assessment of one student and its alert for the residence counselor, as
    triage publishes them."""
    now = datetime.now(UTC)
    graded = AssessmentGraded(
        assessment_id=str(uuid.uuid4()),
        student_ref=student_ref,
        severity=Severity.MODERATE,
        previous_severity=Severity.NONE,
        reasons=[
            Reason(rule_id="bench", severity=Severity.MODERATE, text_zh="压测", text_en="bench")
        ],
        policy_version="bench-1",
        trigger="report",
        report_ids=[str(uuid.uuid4())],
        graded_at=now,
    )
    alert = AlertRaised(
        alert_id=str(uuid.uuid4()),
        assessment_id=graded.assessment_id,
        student_ref=student_ref,
        severity=Severity.MODERATE,
        owner_role=Role.RESIDENCE_COUNSELOR,
        ack_deadline=now + timedelta(hours=2),
        policy_version="bench-1",
        raised_at=now,
    )
    return (
        Envelope.wrap(graded, source=SOURCE, campus_id=campus, subject=student_ref),
        Envelope.wrap(alert, source=SOURCE, campus_id=campus, subject=student_ref),
    )
