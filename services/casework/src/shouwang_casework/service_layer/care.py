"""Staff records around a case: notes (sealed, versioned), the plan (versioned), follow-ups.

Writes need tier 4+ with the student in scope; reads go through `authorize_read`, which
also writes the audit log.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime

import asyncpg
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.events.casework import FollowUpFinding, FollowUpStatus, PlanUpdated

from ..adapters import care
from ..domain.cases import Case
from ..domain.followup import FollowUp, FollowUpPurpose
from ..domain.guards import (
    FINDING_NEEDS_COMPLETION,
    Actor,
    InvalidTransition,
    MissingRecord,
    Reading,
    may_work_cases,
    require,
)
from ..domain.plan import Plan, PlanAction
from .access import Caller, CaseNotFound, actor_for, authorize_read, refuse_students
from .events import follow_up_updated, publish
from .loop import load_case, now, store


async def _worker(
    conn: asyncpg.Connection, caller: Caller, case_id: str, what: str
) -> tuple[Case, Actor]:
    refuse_students(caller)
    case = await load_case(conn, case_id)
    actor = await actor_for(conn, caller, case.student_ref)
    require(may_work_cases(actor), f"{what}_forbidden", f"tier 4+ in scope writes {what}")
    return case, actor


async def write_note(
    conn: asyncpg.Connection,
    caller: Caller,
    cipher: NoteCipher,
    case_id: str,
    text: str,
    *,
    note_id: str | None = None,
) -> care.NoteVersion:
    """Add a note, or a new version of `note_id`; the text is sealed before it is stored."""
    case, actor = await _worker(conn, caller, case_id, "notes")
    if note_id is not None and await care.note_case_id(conn, note_id) != case.case_id:
        raise CaseNotFound("note_not_found", "no such note on this case")
    note_id = note_id or str(uuid.uuid4())
    at = now()
    version = await care.save_note(
        conn,
        cipher,
        case,
        note_id=note_id,
        text=text,
        author_ref=actor.ref,
        author_role=actor.role.value,
        at=at,
    )
    case.record(
        "note_written", actor, at, detail={"note_id": note_id, "version": version}, text=None
    )
    await store(conn, case, cipher, None)
    return care.NoteVersion(note_id, version, actor.ref, actor.role.value, text, at)


async def read_notes(
    conn: asyncpg.Connection,
    caller: Caller,
    cipher: NoteCipher,
    case_id: str,
    *,
    all_versions: bool,
) -> list[care.NoteVersion]:
    """The case's notes, opened for a reader in scope (audited)."""
    case = await load_case(conn, case_id, lock=False)
    await authorize_read(
        conn,
        caller,
        case.student_ref,
        "case.notes.read",
        owner_ref=case.owner_ref,
        needs=Reading.FULL,
    )
    return await care.note_versions(conn, cipher, case, latest_only=not all_versions)


async def read_plan(
    conn: asyncpg.Connection, caller: Caller, cipher: NoteCipher, case_id: str
) -> Plan:
    """The case's current plan (audited); the actions' descriptions (free text) only for
    those who read free text."""
    case = await load_case(conn, case_id, lock=False)
    reading = await authorize_read(
        conn, caller, case.student_ref, "case.plan.read", owner_ref=case.owner_ref
    )
    plan = await care.latest_plan(conn, cipher, case)
    if reading is Reading.FULL:
        return plan
    return replace(plan, actions=[replace(a, description=None) for a in plan.actions])


async def revise_plan(
    conn: asyncpg.Connection,
    caller: Caller,
    cipher: NoteCipher,
    case_id: str,
    actions: list[PlanAction],
    review_dates: list[datetime],
    *,
    expected_version: int,
    traceparent: str | None = None,
) -> Plan:
    """Store the next plan version; `expected_version` guards against lost updates."""
    case, actor = await _worker(conn, caller, case_id, "plan")
    current = await care.latest_plan(conn, cipher, case)
    if current.version != expected_version:
        raise InvalidTransition(
            "plan_version_conflict",
            f"the plan is at version {current.version}, not {expected_version}",
            detail_zh=(
                f"帮扶计划已被他人更新（现为第 {current.version} 版，"
                f"您是在第 {expected_version} 版上修改的），请刷新后重试"
            ),
        )
    at = now()
    plan = current.revise(actions, review_dates, at=at)
    await care.save_plan(conn, cipher, case, plan, actor.ref, at)
    case.record(
        "plan_updated",
        actor,
        at,
        detail={"version": plan.version, "open": plan.actions_open, "done": plan.actions_done},
        text=None,
    )
    await store(conn, case, cipher, traceparent)
    await publish(
        conn,
        case.campus_id,
        PlanUpdated(
            case_id=case.case_id,
            student_ref=case.student_ref,
            plan_version=plan.version,
            actions_open=plan.actions_open,
            actions_done=plan.actions_done,
            next_review_at=plan.next_review(at),
            updated_at=at,
        ),
        traceparent,
    )
    return plan


async def schedule_follow_up(
    conn: asyncpg.Connection,
    caller: Caller,
    cipher: NoteCipher,
    case_id: str,
    *,
    due_at: datetime,
    purpose: FollowUpPurpose,
    assignee_ref: str | None,
) -> FollowUp:
    """Set a follow-up (回访) on the case."""
    case, actor = await _worker(conn, caller, case_id, "follow_ups")
    at = now()
    follow_up = FollowUp.schedule(
        case,
        actor,
        follow_up_id=str(uuid.uuid4()),
        purpose=purpose,
        due_at=due_at,
        assignee_ref=assignee_ref or actor.ref,
        at=at,
    )
    await care.save_follow_up(conn, cipher, case, follow_up)
    await store(conn, case, cipher, None)
    await publish(conn, case.campus_id, follow_up_updated(case, follow_up, at))
    return follow_up


async def update_follow_up(
    conn: asyncpg.Connection,
    caller: Caller,
    cipher: NoteCipher,
    case_id: str,
    follow_up_id: str,
    *,
    due_at: datetime | None = None,
    assignee_ref: str | None = None,
    close_as: FollowUpStatus | None = None,
    reason: str | None = None,
    finding: FollowUpFinding | None = None,
) -> FollowUp:
    """Move a follow-up, or close it by hand (completed / cancelled: who, when, why; a
    completed one may record what it found)."""
    case, actor = await _worker(conn, caller, case_id, "follow_ups")
    follow_up = await care.get_follow_up(conn, follow_up_id)
    if follow_up is None or follow_up.case_id != case.case_id:
        raise CaseNotFound("follow_up_not_found", "no such follow-up on this case")
    at = now()
    if close_as is not None:
        follow_up.close(close_as, actor.ref, at, reason, finding)
        kind = "follow_up_closed"
        detail = {"follow_up_id": follow_up_id, "status": close_as.value}
        if finding is not None:
            detail["finding"] = finding.value
    elif finding is not None:
        raise MissingRecord(
            "finding_needs_completion",
            "only a completed follow-up records a finding",
            field="finding",
            field_message=FINDING_NEEDS_COMPLETION,
        )
    else:
        follow_up.move(due_at or follow_up.due_at, assignee_ref or follow_up.assignee_ref)
        kind, detail, reason = "follow_up_moved", {"follow_up_id": follow_up_id}, None
    await care.save_follow_up(conn, cipher, case, follow_up, reason=reason)
    case.record(kind, actor, at, detail=detail, text=reason)
    await store(conn, case, cipher, None)
    await publish(conn, case.campus_id, follow_up_updated(case, follow_up, at))
    return follow_up


async def remind_missed_follow_ups(conn: asyncpg.Connection, cipher: NoteCipher) -> int:
    """Flag each missed follow-up once (history entry + metric); returns how many."""
    at = now()
    missed = await care.missed_follow_ups(conn, at)
    for follow_up in missed:
        case = await load_case(conn, follow_up.case_id)
        follow_up.reminded_at = at
        await care.save_follow_up(conn, cipher, case, follow_up)
        case.record_system(
            "follow_up_missed",
            at,
            detail={"follow_up_id": follow_up.follow_up_id, "due_at": follow_up.due_at.isoformat()},
        )
        await store(conn, case, cipher, None)
    return len(missed)
