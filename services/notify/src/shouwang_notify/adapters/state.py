"""What notify knows of students, cases and alerts, from the directory and case streams."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg
from shouwang_contracts.vocabulary import Role, Severity

from ..domain.campus_messages import FamilyMessageSettings
from ..domain.routing import ConsentState, FamilyGate, Responsible


async def replace_responsible(
    conn: asyncpg.Connection,
    campus_id: str,
    student_ref: str,
    people: list[Responsible],
) -> None:
    """The directory's latest word on who holds each role for the student."""
    await conn.execute(
        "DELETE FROM responsible WHERE campus_id = $1 AND student_ref = $2", campus_id, student_ref
    )
    await conn.executemany(
        "INSERT INTO responsible (campus_id, student_ref, role, person_ref) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT DO NOTHING",
        [(campus_id, student_ref, p.role.value, p.person_ref) for p in people],
    )


async def responsible_for(
    conn: asyncpg.Connection, campus_id: str, student_ref: str
) -> list[Responsible]:
    rows = await conn.fetch(
        "SELECT role, person_ref FROM responsible WHERE campus_id = $1 AND student_ref = $2"
        " ORDER BY role, person_ref",
        campus_id,
        student_ref,
    )
    return [Responsible(Role(r["role"]), r["person_ref"]) for r in rows]


async def responsible_for_many(
    conn: asyncpg.Connection, students: list[tuple[str, str]]
) -> dict[tuple[str, str], list[Responsible]]:
    """Who holds each role for these (campus, student) pairs, in one statement."""
    rows = await conn.fetch(
        "SELECT r.campus_id, r.student_ref, r.role, r.person_ref FROM responsible r"
        " JOIN unnest($1::text[], $2::text[]) AS p(c, s)"
        " ON r.campus_id = p.c AND r.student_ref = p.s"
        " ORDER BY r.campus_id, r.student_ref, r.role, r.person_ref",
        [c for c, _ in students],
        [s for _, s in students],
    )
    people: dict[tuple[str, str], list[Responsible]] = {}
    for r in rows:
        people.setdefault((r["campus_id"], r["student_ref"]), []).append(
            Responsible(Role(r["role"]), r["person_ref"])
        )
    return people


@dataclass(frozen=True, slots=True)
class CaseState:
    case_id: str
    student_ref: str
    severity: Severity | None
    owner_ref: str | None
    owner_role: Role | None
    consent: ConsentState | None
    family_told: Severity | None
    closed: bool

    @staticmethod
    def closed_gate() -> FamilyGate:
        """No open case: no family contact."""
        return FamilyGate(case_id=None, consent=None)

    def family_gate(self) -> FamilyGate:
        if self.closed:
            return FamilyGate(case_id=None, consent=None)
        return FamilyGate(self.case_id, self.consent, self.family_told)


def _case(row: asyncpg.Record) -> CaseState:
    return CaseState(
        case_id=row["case_id"],
        student_ref=row["student_ref"],
        severity=Severity(row["severity"]) if row["severity"] else None,
        owner_ref=row["owner_ref"],
        owner_role=Role(row["owner_role"]) if row["owner_role"] else None,
        consent=ConsentState(row["consent"]) if row["consent"] else None,
        family_told=Severity(row["family_told"]) if row["family_told"] else None,
        closed=row["closed_at"] is not None,
    )


# The one order in which transactions lock several cases: by student, then by case (a key
# no update changes, unlike `updated_at`). Both statements below lock in it.
_OPEN_CASES_LOCKED = (
    "SELECT c.* FROM cases c JOIN unnest($1::text[], $2::text[]) AS p(cid, s)"
    " ON c.campus_id = p.cid AND c.student_ref = p.s WHERE c.closed_at IS NULL"
    " ORDER BY c.campus_id, c.student_ref, c.case_id FOR UPDATE OF c"
)
_CASES_LOCKED = (
    "SELECT 1 FROM cases c WHERE c.case_id = ANY($1::text[])"
    " ORDER BY c.campus_id, c.student_ref, c.case_id FOR UPDATE OF c"
)
_OPEN_CASE = (
    "SELECT * FROM cases WHERE campus_id = $1 AND student_ref = $2 AND closed_at IS NULL"
    " ORDER BY updated_at DESC LIMIT 1"
)
_OPEN_CASE_LOCKED = _OPEN_CASE + " FOR UPDATE"
_CASE = "SELECT * FROM cases WHERE case_id = $1"
_CASE_LOCKED = _CASE + " FOR UPDATE"


async def open_case_of(
    conn: asyncpg.Connection, campus_id: str, student_ref: str, *, lock: bool = False
) -> CaseState | None:
    """The student's open case (one at a time), if notify has heard of it."""
    row = await conn.fetchrow(
        _OPEN_CASE_LOCKED if lock else _OPEN_CASE,
        campus_id,
        student_ref,
    )
    return _case(row) if row else None


async def open_cases_of(
    conn: asyncpg.Connection, students: list[tuple[str, str]]
) -> dict[tuple[str, str], CaseState]:
    """Each of these students' open case, locked, in one statement. Rows are locked in
    (campus, student, case) order, as every transaction that locks several cases locks
    them, so none waits on another in a circle."""
    rows = await conn.fetch(
        _OPEN_CASES_LOCKED,
        [c for c, _ in students],
        [s for _, s in students],
    )
    latest: dict[tuple[str, str], asyncpg.Record] = {}
    for row in rows:  # the latest open case of each student, as `open_case_of` takes
        key = (row["campus_id"], row["student_ref"])
        if key not in latest or row["updated_at"] > latest[key]["updated_at"]:
            latest[key] = row
    return {key: _case(row) for key, row in latest.items()}


async def lock_cases(conn: asyncpg.Connection, case_ids: list[str]) -> None:
    """Lock these cases (those notify has) in one statement, in (campus, student, case)
    order: a transaction that goes on to update them one by one, in any order, then never
    waits for a case another transaction holds while holding one that one waits for."""
    await conn.execute(_CASES_LOCKED, case_ids)


async def get_case(
    conn: asyncpg.Connection, case_id: str, *, lock: bool = False
) -> CaseState | None:
    row = await conn.fetchrow(_CASE_LOCKED if lock else _CASE, case_id)
    return _case(row) if row else None


async def upsert_case(
    conn: asyncpg.Connection,
    campus_id: str,
    case_id: str,
    student_ref: str,
    *,
    severity: Severity | None = None,
    owner_ref: str | None = None,
    owner_role: Role | None = None,
    closed_at: datetime | None = None,
) -> None:
    """Create the case on first word of it; later words fill in what they carry."""
    await conn.execute(
        """
        INSERT INTO cases (campus_id, case_id, student_ref, severity, owner_ref, owner_role, closed_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (case_id) DO UPDATE SET
            severity = COALESCE(EXCLUDED.severity, cases.severity),
            owner_ref = COALESCE(EXCLUDED.owner_ref, cases.owner_ref),
            owner_role = COALESCE(EXCLUDED.owner_role, cases.owner_role),
            closed_at = COALESCE(EXCLUDED.closed_at, cases.closed_at),
            updated_at = now()
        """,
        campus_id,
        case_id,
        student_ref,
        severity.value if severity else None,
        owner_ref,
        owner_role.value if owner_role else None,
        closed_at,
    )


async def clear_owner(conn: asyncpg.Connection, case_id: str, previous_owner_ref: str) -> None:
    """The case has no owner now, unless someone else took it since (events may come late)."""
    await conn.execute(
        "UPDATE cases SET owner_ref = NULL, updated_at = now()"
        " WHERE case_id = $1 AND owner_ref = $2",
        case_id,
        previous_owner_ref,
    )


async def set_consent(
    conn: asyncpg.Connection, case_id: str, consent: ConsentState, at: datetime
) -> None:
    """Record a decision unless a later one is already recorded (events may come late)."""
    await conn.execute(
        "UPDATE cases SET consent = $2, consent_at = $3, updated_at = now()"
        " WHERE case_id = $1 AND (consent_at IS NULL OR consent_at <= $3)",
        case_id,
        consent.value,
        at,
    )


async def set_family_told(conn: asyncpg.Connection, case_id: str, severity: Severity) -> None:
    await conn.execute(
        "UPDATE cases SET family_told = $2, updated_at = now() WHERE case_id = $1",
        case_id,
        severity.value,
    )


async def digest_hour(conn: asyncpg.Connection, campus_id: str, default: int) -> int:
    hour = await conn.fetchval(
        "SELECT digest_hour FROM campus_settings WHERE campus_id = $1", campus_id
    )
    return int(hour) if hour is not None else default


async def set_digest_hour(conn: asyncpg.Connection, campus_id: str, hour: int, by: str) -> None:
    await conn.execute(
        """
        INSERT INTO campus_settings (campus_id, digest_hour, updated_by) VALUES ($1, $2, $3)
        ON CONFLICT (campus_id) DO UPDATE SET digest_hour = EXCLUDED.digest_hour,
            updated_by = EXCLUDED.updated_by, updated_at = now()
        """,
        campus_id,
        hour,
        by,
    )


async def family_message_settings(
    conn: asyncpg.Connection, campus_id: str
) -> FamilyMessageSettings:
    """The campus's counseling line and SMS signature (none set: both None)."""
    row = await conn.fetchrow(
        "SELECT counseling_line, sms_signature FROM campus_settings WHERE campus_id = $1",
        campus_id,
    )
    if row is None:
        return FamilyMessageSettings()
    return FamilyMessageSettings(row["counseling_line"], row["sms_signature"])


async def set_family_message_settings(
    conn: asyncpg.Connection, campus_id: str, settings: FamilyMessageSettings, by: str
) -> None:
    await conn.execute(
        """
        INSERT INTO campus_settings (campus_id, counseling_line, sms_signature, updated_by)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (campus_id) DO UPDATE SET counseling_line = EXCLUDED.counseling_line,
            sms_signature = EXCLUDED.sms_signature,
            updated_by = EXCLUDED.updated_by, updated_at = now()
        """,
        campus_id,
        settings.counseling_line,
        settings.sms_signature,
        by,
    )


async def alert_acknowledged(
    conn: asyncpg.Connection, alert_id: str, campus_id: str, at: datetime
) -> None:
    await conn.execute(
        "INSERT INTO alerts_acknowledged (alert_id, campus_id, acknowledged_at) VALUES ($1, $2, $3)"
        " ON CONFLICT DO NOTHING",
        alert_id,
        campus_id,
        at,
    )


async def acknowledged_alerts(
    conn: asyncpg.Connection, campus_id: str, alert_ids: list[str]
) -> set[str]:
    """Of `alert_ids`, those acknowledged: casework said so, or a link of theirs was used
    (casework has not answered yet)."""
    rows = await conn.fetch(
        "SELECT alert_id FROM alerts_acknowledged WHERE campus_id = $1 AND alert_id = ANY($2)"
        " UNION SELECT alert_id FROM ack_links WHERE campus_id = $1 AND alert_id = ANY($2)"
        " AND used_at IS NOT NULL",
        campus_id,
        alert_ids,
    )
    return {row["alert_id"] for row in rows}
