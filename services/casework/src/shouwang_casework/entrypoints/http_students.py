"""The student picker and queue names (/v1/students/...): who a caller may name, by scope.

Same rules as http_cases: one campus transaction per call, role and scope checked by the
service layer (`service_layer.directory`), every lookup in the audit log.
"""

from __future__ import annotations

from typing import Annotated

import asyncpg
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from shouwang_servicekit.security import CurrentPrincipal

from ..adapters.directory import StudentCard
from ..container import Casework
from ..service_layer import directory
from ..service_layer.access import Caller
from . import http_schemas as s
from .http_common import Container, in_campus

router = APIRouter(prefix="/v1/students", tags=["students"], responses=s.PROBLEMS)


class StudentCardOut(BaseModel):
    """Enough of a student to recognise them: number, name, where they live and study."""

    student_ref: str = Field(description="The pseudonym cases and events carry.")
    student_no: str = Field(description="学号.")
    name: str
    college: str | None = None
    class_name: str | None = None
    building: str | None = None
    room: str | None = None


class StudentCardPage(BaseModel):
    items: list[StudentCardOut]


def _out(cards: list[StudentCard]) -> StudentCardPage:
    return StudentCardPage(
        items=[
            StudentCardOut(
                student_ref=c.student_ref,
                student_no=c.student_no,
                name=c.name,
                college=c.college,
                class_name=c.class_name,
                building=c.building,
                room=c.room,
            )
            for c in cards
        ]
    )


@router.get("/lookup", operation_id="pick_students", response_model=StudentCardPage)
async def pick_students(
    casework: Container,
    principal: CurrentPrincipal,
    q: Annotated[
        str, Query(max_length=32, description="Start of a 学号, or part of a name; may be empty.")
    ] = "",
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> StudentCardPage:
    """Students in my scope to report about: my room, floor, class or buildings."""

    async def work(conn: asyncpg.Connection, caller: Caller, cw: Casework) -> StudentCardPage:
        window = cw.settings.audit_list_window
        return _out(
            await directory.pick_students(conn, caller, q.strip(), limit, audit_window=window)
        )

    return await in_campus(casework, principal, work)


@router.get("/cards", operation_id="name_students", response_model=StudentCardPage)
async def name_students(
    casework: Container,
    principal: CurrentPrincipal,
    ref: Annotated[
        list[Annotated[str, Field(max_length=128)]],
        Query(min_length=1, max_length=100, description="student_ref values, e.g. of a queue."),
    ],
) -> StudentCardPage:
    """Who is behind these pseudonyms, for those in my scope (staff only, audited)."""

    async def work(conn: asyncpg.Connection, caller: Caller, cw: Casework) -> StudentCardPage:
        refs = list(dict.fromkeys(ref))
        window = cw.settings.audit_list_window
        return _out(await directory.name_students(conn, caller, refs, audit_window=window))

    return await in_campus(casework, principal, work)
