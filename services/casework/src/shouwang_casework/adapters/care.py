"""What staff record around a case: referrals, consents, follow-ups, notes, the plan; and the queue.

Every function runs inside `campus_transaction` (row-level security keeps one campus). Free
text arrives here already sealed (EncryptedText JSON) or is sealed here with the case's
student bound in, so it never rests in clear.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.events.casework import FollowUpFinding, FollowUpStatus, ReferralStatus

from ..domain.cases import Case
from ..domain.followup import FollowUp, FollowUpPurpose
from ..domain.plan import ActionKind, ActionStatus, Plan, PlanAction
from ..domain.referral import DestinationType, Referral
from .cases import open_sealed


def _seal(cipher: NoteCipher, case: Case, text: str | None) -> str | None:
    if not text:
        return None
    return cipher.seal(
        text, campus_id=case.campus_id, student_ref=case.student_ref
    ).model_dump_json()


# --- referrals and consents -------------------------------------------------------------------


def _referral(row: asyncpg.Record) -> Referral:
    return Referral(
        referral_id=str(row["referral_id"]),
        case_id=str(row["case_id"]),
        destination_type=DestinationType(row["destination_type"]),
        destination=row["destination"],
        status=ReferralStatus(row["status"]),
        consent=row["consent"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        returned_at=row["returned_at"],
        version=row["version"],
    )


async def current_referral(
    conn: asyncpg.Connection, case_id: str, *, lock: bool = False
) -> Referral | None:
    """The case's latest referral (locked for update when `lock`)."""
    query = "SELECT * FROM referrals WHERE case_id = $1 ORDER BY created_at DESC LIMIT 1"
    row = await conn.fetchrow(query + " FOR UPDATE" if lock else query, uuid.UUID(case_id))
    return _referral(row) if row else None


async def insert_referral(
    conn: asyncpg.Connection, case: Case, referral: Referral, created_by_ref: str
) -> None:
    """Store a new referral of the case."""
    await conn.execute(
        """
        INSERT INTO referrals (referral_id, campus_id, case_id, destination_type, destination,
                               status, consent, created_by_ref, created_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
        """,
        uuid.UUID(referral.referral_id),
        case.campus_id,
        uuid.UUID(case.case_id),
        referral.destination_type.value,
        referral.destination,
        referral.status.value,
        referral.consent,
        created_by_ref,
        referral.created_at,
    )


async def update_referral(conn: asyncpg.Connection, referral: Referral) -> None:
    """Store the referral's new status."""
    await conn.execute(
        """
        UPDATE referrals SET status = $2, updated_at = $3, returned_at = $4, version = $5
        WHERE referral_id = $1
        """,
        uuid.UUID(referral.referral_id),
        referral.status.value,
        referral.updated_at,
        referral.returned_at,
        referral.version,
    )


async def record_consent(
    conn: asyncpg.Connection,
    cipher: NoteCipher,
    case: Case,
    *,
    subject: str,
    decision: str,
    reason: str | None,
    by_ref: str,
    by_role: str,
    at: datetime,
) -> str:
    """Store a consent decision (the override reason sealed); returns its id."""
    consent_id = uuid.uuid4()
    await conn.execute(
        """
        INSERT INTO consents (consent_id, campus_id, case_id, subject, decision, sealed_reason,
                              recorded_by_ref, recorded_by_role, recorded_at)
        VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9)
        """,
        consent_id,
        case.campus_id,
        uuid.UUID(case.case_id),
        subject,
        decision,
        _seal(cipher, case, reason),
        by_ref,
        by_role,
        at,
    )
    return str(consent_id)


# --- follow-ups -------------------------------------------------------------------------------


def _follow_up(row: asyncpg.Record) -> FollowUp:
    return FollowUp(
        follow_up_id=str(row["follow_up_id"]),
        case_id=str(row["case_id"]),
        purpose=FollowUpPurpose(row["purpose"]),
        due_at=row["due_at"],
        assignee_ref=row["assignee_ref"],
        status=FollowUpStatus(row["status"]),
        created_by_ref=row["created_by_ref"],
        created_at=row["created_at"],
        closed_by_ref=row["closed_by_ref"],
        closed_at=row["closed_at"],
        reminded_at=row["reminded_at"],
        version=row["version"],
        finding=FollowUpFinding(row["finding"]) if row["finding"] else None,
    )


async def follow_ups_of(conn: asyncpg.Connection, case_id: str) -> list[FollowUp]:
    """Every follow-up of the case, by due time."""
    rows = await conn.fetch(
        "SELECT * FROM follow_ups WHERE case_id = $1 ORDER BY due_at", uuid.UUID(case_id)
    )
    return [_follow_up(r) for r in rows]


async def get_follow_up(conn: asyncpg.Connection, follow_up_id: str) -> FollowUp | None:
    """One follow-up, locked for update, or None."""
    try:
        key = uuid.UUID(follow_up_id)
    except ValueError:
        return None
    row = await conn.fetchrow("SELECT * FROM follow_ups WHERE follow_up_id = $1 FOR UPDATE", key)
    return _follow_up(row) if row else None


async def save_follow_up(
    conn: asyncpg.Connection,
    cipher: NoteCipher,
    case: Case,
    follow_up: FollowUp,
    *,
    reason: str | None = None,
) -> None:
    """Insert or update a follow-up (the closing reason sealed)."""
    await conn.execute(
        """
        INSERT INTO follow_ups (follow_up_id, campus_id, case_id, purpose, due_at, assignee_ref,
                                status, closed_by_ref, closed_at, sealed_reason, reminded_at,
                                created_by_ref, created_at, version, finding)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12, $13, $14, $15)
        ON CONFLICT (follow_up_id) DO UPDATE SET
            due_at = excluded.due_at, assignee_ref = excluded.assignee_ref,
            status = excluded.status, closed_by_ref = excluded.closed_by_ref,
            closed_at = excluded.closed_at,
            sealed_reason = coalesce(excluded.sealed_reason, follow_ups.sealed_reason),
            reminded_at = excluded.reminded_at, version = excluded.version,
            finding = excluded.finding
        """,
        uuid.UUID(follow_up.follow_up_id),
        case.campus_id,
        uuid.UUID(case.case_id),
        follow_up.purpose.value,
        follow_up.due_at,
        follow_up.assignee_ref,
        follow_up.status.value,
        follow_up.closed_by_ref,
        follow_up.closed_at,
        _seal(cipher, case, reason),
        follow_up.reminded_at,
        follow_up.created_by_ref,
        follow_up.created_at,
        follow_up.version,
        follow_up.finding.value if follow_up.finding else None,
    )


async def completed_follow_ups(conn: asyncpg.Connection, case_id: str) -> int:
    """How many follow-ups of the case took place."""
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM follow_ups WHERE case_id = $1 AND status = 'completed'",
            uuid.UUID(case_id),
        )
    )


async def missed_follow_ups(conn: asyncpg.Connection, now: datetime) -> list[FollowUp]:
    """Follow-ups past due, still scheduled and not yet reminded (this campus)."""
    rows = await conn.fetch(
        """
        SELECT * FROM follow_ups
        WHERE status = 'scheduled' AND reminded_at IS NULL AND due_at < $1
        ORDER BY due_at
        LIMIT 500
        FOR UPDATE SKIP LOCKED
        """,
        now,
    )
    return [_follow_up(r) for r in rows]


# --- notes ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NoteVersion:
    """A version of a note, opened for a reader in scope."""

    note_id: str
    version: int
    author_ref: str
    author_role: str
    text: str
    created_at: datetime


async def save_note(
    conn: asyncpg.Connection,
    cipher: NoteCipher,
    case: Case,
    *,
    note_id: str,
    text: str,
    author_ref: str,
    author_role: str,
    at: datetime,
) -> int:
    """Store a new version of a note (version 1 for a new note); returns the version."""
    version = await conn.fetchval(
        "SELECT coalesce(max(version), 0) + 1 FROM notes WHERE note_id = $1", uuid.UUID(note_id)
    )
    await conn.execute(
        """
        INSERT INTO notes (note_id, version, campus_id, case_id, student_ref, author_ref,
                           author_role, sealed, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9)
        """,
        uuid.UUID(note_id),
        version,
        case.campus_id,
        uuid.UUID(case.case_id),
        case.student_ref,
        author_ref,
        author_role,
        _seal(cipher, case, text),
        at,
    )
    return int(version)


async def note_versions(
    conn: asyncpg.Connection, cipher: NoteCipher, case: Case, *, latest_only: bool
) -> list[NoteVersion]:
    """The case's notes (every version, or the latest of each), oldest first, opened."""
    rows = await conn.fetch(
        """
        SELECT * FROM notes n
        WHERE case_id = $1
          AND (NOT $2 OR version = (SELECT max(version) FROM notes m WHERE m.note_id = n.note_id))
        ORDER BY created_at, note_id, version
        """,
        uuid.UUID(case.case_id),
        latest_only,
    )
    return [
        NoteVersion(
            note_id=str(r["note_id"]),
            version=r["version"],
            author_ref=r["author_ref"],
            author_role=r["author_role"],
            text=open_sealed(cipher, r["sealed"], case) or "",
            created_at=r["created_at"],
        )
        for r in rows
    ]


async def note_case_id(conn: asyncpg.Connection, note_id: str) -> str | None:
    """The case a note belongs to, or None."""
    try:
        key = uuid.UUID(note_id)
    except ValueError:
        return None
    value = await conn.fetchval("SELECT case_id FROM notes WHERE note_id = $1 LIMIT 1", key)
    return str(value) if value else None


# --- plan -------------------------------------------------------------------------------------


async def latest_plan(conn: asyncpg.Connection, cipher: NoteCipher, case: Case) -> Plan:
    """The current version of the case's plan (version 0 when there is none yet)."""
    row = await conn.fetchrow(
        "SELECT * FROM plans WHERE case_id = $1 ORDER BY version DESC LIMIT 1",
        uuid.UUID(case.case_id),
    )
    if row is None:
        return Plan(case_id=case.case_id)
    actions = [
        PlanAction(
            action_id=a["action_id"],
            kind=ActionKind(a["kind"]),
            owner_ref=a["owner_ref"],
            due_at=datetime.fromisoformat(a["due_at"]) if a["due_at"] else None,
            status=ActionStatus(a["status"]),
            description=open_sealed(cipher, a["description"], case),
        )
        for a in json.loads(row["actions"])
    ]
    return Plan(
        case_id=case.case_id,
        version=row["version"],
        actions=actions,
        review_dates=list(row["review_dates"]),
        updated_at=row["updated_at"],
    )


async def save_plan(
    conn: asyncpg.Connection, cipher: NoteCipher, case: Case, plan: Plan, by_ref: str, at: datetime
) -> None:
    """Store a new plan version; a concurrent revision of the same version fails (PK)."""
    actions: list[dict[str, Any]] = [
        {
            "action_id": a.action_id,
            "kind": a.kind.value,
            "owner_ref": a.owner_ref,
            "due_at": a.due_at.isoformat() if a.due_at else None,
            "status": a.status.value,
            "description": _seal(cipher, case, a.description),
        }
        for a in plan.actions
    ]
    await conn.execute(
        """
        INSERT INTO plans (case_id, version, campus_id, actions, review_dates, updated_by_ref,
                           updated_at)
        VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7)
        """,
        uuid.UUID(case.case_id),
        plan.version,
        case.campus_id,
        json.dumps(actions),
        plan.review_dates,
        by_ref,
        at,
    )
