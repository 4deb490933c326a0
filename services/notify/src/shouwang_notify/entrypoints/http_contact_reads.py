"""Auditors' view of who read contact details (/v1/contact-reads).

Every answer of the contacts API that shows a family's or a staff member's contact details
writes a row (`adapters.contact_reads`, in the answer's transaction); auditors read the trail
here, newest first, in their campus only. No one else may: a campus admin must not read the
trail of their own reads (and no role may change it: the table is append-only).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from shouwang_contracts.auth import Principal
from shouwang_contracts.vocabulary import Role
from shouwang_servicekit.app import app_container
from shouwang_servicekit.security import require_roles

from ..adapters import contact_reads
from ..adapters.db import campus_transaction
from ..container import Notify
from . import http_schemas as s

App = Annotated[Notify, Depends(app_container)]
Auditor = Annotated[Principal, Depends(require_roles(Role.AUDITOR))]
BIGINT_MAX = 2**63 - 1
Number = Query(max_length=32, pattern="^[0-9A-Za-z][0-9A-Za-z_-]{0,31}$")
Ref = Query(max_length=64, pattern="^[a-z0-9_]+$")

router = APIRouter(prefix="/v1", tags=["notify"])


@router.get("/contact-reads", operation_id="list_contact_reads", response_model=s.ContactReadsPage)
async def list_contact_reads(
    app: App,
    principal: Auditor,
    reader_ref: Annotated[str | None, Ref] = None,
    student_ref: Annotated[str | None, Ref] = None,
    staff_no: Annotated[str | None, Number] = None,
    student_no: Annotated[str | None, Number] = None,
    before_id: Annotated[
        int | None, Query(ge=1, le=BIGINT_MAX, description="Cursor: next_before_id of a page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> s.ContactReadsPage:
    """Who read contact details in the campus, newest first, for auditors; this look is itself
    recorded. Filter by reader (`reader_ref`, or their 工号 `staff_no`) or by the student
    whose family's contacts were read (`student_ref`, or their 学号 `student_no`): numbers are
    turned into the pseudonyms the trail holds."""
    campus_id = principal.campus_id
    if staff_no:
        reader_ref = app.pseudonyms.person_ref(campus_id, staff_no)
    if student_no:
        student_ref = app.pseudonyms.student_ref(campus_id, student_no)
    query = contact_reads.TrailQuery(reader_ref, student_ref, before_id, limit)
    reader = contact_reads.Reader(
        app.pseudonyms.person_ref(campus_id, principal.sub), principal.role.value
    )
    async with campus_transaction(app.pool, campus_id) as conn:
        rows = await contact_reads.trail(conn, campus_id, query)
        await contact_reads.record(conn, campus_id, reader, "contact_reads.read")
    return s.ContactReadsPage(
        items=[s.ContactReadOut(**dict(r)) for r in rows],
        next_before_id=rows[-1]["id"] if len(rows) == limit else None,
    )
