"""The staff API for what is recorded around a case (/v1): notes, the plan, follow-ups.

Same rules as http_cases: one campus transaction per call, role/tier/scope checked by the
service layer, refusals as problem+json, every read audited.
"""

from __future__ import annotations

from typing import Annotated

import asyncpg
from fastapi import APIRouter, Query, status
from shouwang_contracts.trace import current_traceparent
from shouwang_servicekit.security import CurrentPrincipal

from ..container import Casework
from ..domain.plan import PlanAction
from ..service_layer import care
from ..service_layer.access import Caller
from . import http_schemas as s
from .http_cases import follow_up_out, plan_out
from .http_common import Container, in_campus

router = APIRouter(prefix="/v1", tags=["cases"], responses=s.PROBLEMS)


@router.get("/cases/{case_id}/notes", operation_id="list_notes", response_model=list[s.NoteOut])
async def list_notes(
    casework: Container,
    principal: CurrentPrincipal,
    case_id: str,
    all_versions: Annotated[bool, Query(description="Every version, not just the latest.")] = False,
) -> list[s.NoteOut]:
    """The case's notes, opened for you."""

    async def work(conn: asyncpg.Connection, caller: Caller, cw: Casework) -> list[s.NoteOut]:
        notes = await care.read_notes(conn, caller, cw.cipher, case_id, all_versions=all_versions)
        return [
            s.NoteOut(
                note_id=n.note_id,
                version=n.version,
                author_ref=n.author_ref,
                author_role=n.author_role,
                text=n.text,
                created_at=n.created_at,
            )
            for n in notes
        ]

    return await in_campus(casework, principal, work)


async def _write_note(
    casework: Container, principal: CurrentPrincipal, case_id: str, text: str, note_id: str | None
) -> s.NoteOut:
    async def work(conn: asyncpg.Connection, caller: Caller, cw: Casework) -> s.NoteOut:
        n = await care.write_note(conn, caller, cw.cipher, case_id, text, note_id=note_id)
        return s.NoteOut(
            note_id=n.note_id,
            version=n.version,
            author_ref=n.author_ref,
            author_role=n.author_role,
            text=n.text,
            created_at=n.created_at,
        )

    return await in_campus(casework, principal, work)


@router.post(
    "/cases/{case_id}/notes",
    operation_id="add_note",
    response_model=s.NoteOut,
    status_code=status.HTTP_201_CREATED,
)
async def add_note(
    casework: Container, principal: CurrentPrincipal, case_id: str, body: s.NoteIn
) -> s.NoteOut:
    """Write a note (sealed at rest)."""
    return await _write_note(casework, principal, case_id, body.text, None)


@router.put(
    "/cases/{case_id}/notes/{note_id}", operation_id="revise_note", response_model=s.NoteOut
)
async def revise_note(
    casework: Container, principal: CurrentPrincipal, case_id: str, note_id: str, body: s.NoteIn
) -> s.NoteOut:
    """Write a new version of a note; earlier versions stay."""
    return await _write_note(casework, principal, case_id, body.text, note_id)


@router.get("/cases/{case_id}/plan", operation_id="get_plan", response_model=s.PlanOut)
async def get_plan(casework: Container, principal: CurrentPrincipal, case_id: str) -> s.PlanOut:
    """The student's current plan (策)."""

    async def work(conn: asyncpg.Connection, caller: Caller, cw: Casework) -> s.PlanOut:
        return plan_out(await care.read_plan(conn, caller, cw.cipher, case_id))

    return await in_campus(casework, principal, work)


@router.put("/cases/{case_id}/plan", operation_id="revise_plan", response_model=s.PlanOut)
async def revise_plan(
    casework: Container, principal: CurrentPrincipal, case_id: str, body: s.PlanIn
) -> s.PlanOut:
    """Store the next version of the plan (`expected_version` guards concurrent edits)."""
    actions = [PlanAction(**a.model_dump()) for a in body.actions]

    async def work(conn: asyncpg.Connection, caller: Caller, cw: Casework) -> s.PlanOut:
        plan = await care.revise_plan(
            conn,
            caller,
            cw.cipher,
            case_id,
            actions,
            list(body.review_dates),
            expected_version=body.expected_version,
            traceparent=current_traceparent(),
        )
        return plan_out(plan)

    return await in_campus(casework, principal, work)


@router.post(
    "/cases/{case_id}/follow-ups",
    operation_id="schedule_follow_up",
    response_model=s.FollowUpOut,
    status_code=status.HTTP_201_CREATED,
)
async def schedule_follow_up(
    casework: Container, principal: CurrentPrincipal, case_id: str, body: s.FollowUpIn
) -> s.FollowUpOut:
    """Set a follow-up (回访)."""

    async def work(conn: asyncpg.Connection, caller: Caller, cw: Casework) -> s.FollowUpOut:
        f = await care.schedule_follow_up(
            conn,
            caller,
            cw.cipher,
            case_id,
            due_at=body.due_at,
            purpose=body.purpose,
            assignee_ref=body.assignee_ref,
        )
        return follow_up_out(f)

    return await in_campus(casework, principal, work)


@router.patch(
    "/cases/{case_id}/follow-ups/{follow_up_id}",
    operation_id="update_follow_up",
    response_model=s.FollowUpOut,
)
async def update_follow_up(
    casework: Container,
    principal: CurrentPrincipal,
    case_id: str,
    follow_up_id: str,
    body: s.FollowUpUpdateIn,
) -> s.FollowUpOut:
    """Move a follow-up, or close it by hand (completed / cancelled, with why)."""

    async def work(conn: asyncpg.Connection, caller: Caller, cw: Casework) -> s.FollowUpOut:
        f = await care.update_follow_up(
            conn,
            caller,
            cw.cipher,
            case_id,
            follow_up_id,
            due_at=body.due_at,
            assignee_ref=body.assignee_ref,
            close_as=body.close_as,
            reason=body.reason,
            finding=body.finding,
        )
        return follow_up_out(f)

    return await in_campus(casework, principal, work)
