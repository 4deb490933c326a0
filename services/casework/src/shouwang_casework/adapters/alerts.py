"""Alerts as casework keeps them: which case each landed on, who owns it now (escalations),
and whether someone acknowledged it.

Every function runs inside `campus_transaction` (row-level security keeps it to one campus);
writers hold the student's lock (`cases.lock_student`), as every case write does.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from shouwang_contracts.vocabulary import Role, Severity


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """An alert as casework keeps it."""

    alert_id: str
    case_id: str
    student_ref: str
    assessment_id: str
    severity: Severity
    owner_role: Role
    ack_deadline: datetime
    escalation_level: int
    raised_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by_ref: str | None
    acknowledged_by_role: str | None


def _alert(row: asyncpg.Record) -> AlertRecord:
    return AlertRecord(
        alert_id=row["alert_id"],
        case_id=str(row["case_id"]),
        student_ref=row["student_ref"],
        assessment_id=row["assessment_id"],
        severity=Severity(row["severity"]),
        owner_role=Role(row["owner_role"]),
        ack_deadline=row["ack_deadline"],
        escalation_level=row["escalation_level"],
        raised_at=row["raised_at"],
        acknowledged_at=row["acknowledged_at"],
        acknowledged_by_ref=row["acknowledged_by_ref"],
        acknowledged_by_role=row["acknowledged_by_role"],
    )


async def get_alert(
    conn: asyncpg.Connection, alert_id: str, *, lock: bool = False
) -> AlertRecord | None:
    """One alert, or None."""
    query = (
        "SELECT * FROM alerts WHERE alert_id = $1 FOR UPDATE"
        if lock
        else "SELECT * FROM alerts WHERE alert_id = $1"
    )
    row = await conn.fetchrow(query, alert_id)
    return _alert(row) if row else None


async def insert_alert(conn: asyncpg.Connection, campus_id: str, alert: AlertRecord) -> None:
    """Remember a raised alert (ignored if known)."""
    await conn.execute(
        """
        INSERT INTO alerts (alert_id, campus_id, case_id, student_ref, assessment_id, severity,
                            owner_role, ack_deadline, escalation_level, raised_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        ON CONFLICT (alert_id) DO NOTHING
        """,
        alert.alert_id,
        campus_id,
        uuid.UUID(alert.case_id),
        alert.student_ref,
        alert.assessment_id,
        alert.severity.value,
        alert.owner_role.value,
        alert.ack_deadline,
        alert.escalation_level,
        alert.raised_at,
    )


async def escalate_alert(
    conn: asyncpg.Connection, alert_id: str, owner_role: Role, deadline: datetime, level: int
) -> None:
    """Record an escalation; an older (lower level) escalation never overwrites a newer one."""
    await conn.execute(
        """
        UPDATE alerts SET owner_role = $2, ack_deadline = $3, escalation_level = $4
        WHERE alert_id = $1 AND escalation_level < $4
        """,
        alert_id,
        owner_role.value,
        deadline,
        level,
    )


async def acknowledge_alert(
    conn: asyncpg.Connection, alert_id: str, by_ref: str, by_role: Role, at: datetime
) -> None:
    """Mark an alert acknowledged."""
    await conn.execute(
        """
        UPDATE alerts SET acknowledged_at = $2, acknowledged_by_ref = $3,
                          acknowledged_by_role = $4
        WHERE alert_id = $1 AND acknowledged_at IS NULL
        """,
        alert_id,
        at,
        by_ref,
        by_role.value,
    )


async def alerts_of(conn: asyncpg.Connection, case_id: str) -> list[AlertRecord]:
    """Every alert of a case, oldest first."""
    rows = await conn.fetch(
        "SELECT * FROM alerts WHERE case_id = $1 ORDER BY raised_at", uuid.UUID(case_id)
    )
    return [_alert(r) for r in rows]
