"""HTTP: erasing a student file's free text on the student's request (PIPL Art. 47).

The counseling center (tier 6) receives the written request and carries it out here; the
use case (`service_layer.retention.erase_on_request`) refuses while a case is open (409,
audited) and erases through the owner's database function (migrations/0010).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from shouwang_contracts.auth import Principal
from shouwang_servicekit.security import require_roles

from ..service_layer import retention
from .http_common import Container, in_campus

router = APIRouter(tags=["student file"])
Eraser = Annotated[Principal, Depends(require_roles(*retention.ERASERS))]


class ErasureIn(BaseModel):
    """The written request being carried out, by its reference."""

    model_config = ConfigDict(extra="forbid")

    request_ref: Annotated[
        str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$")
    ] = Field(
        description="The reference under which the center filed the student's written request "
        "(e.g. its ticket number); kept in the audit log. A reference, never the request's text.",
        examples=["PIPL-2026-0042"],
    )


class ErasureOut(BaseModel):
    """What was erased: the file's free text of every case of the student, up to now."""

    student_ref: str
    cases: int = Field(description="How many cases of the student the erasure covered.")
    erased_at: datetime
    request_ref: str


@router.post(
    "/v1/students/{student_ref}/erasure",
    operation_id="erase_student_file_text",
    response_model=ErasureOut,
    responses={
        404: {"description": "No such student in the caller's campus."},
        409: {"description": "The student has a case open: nothing is erased (audited)."},
    },
)
async def erase_student_file_text(
    casework: Container, principal: Eraser, student_ref: str, body: ErasureIn
) -> ErasureOut:
    """Erase one student's notes, plan texts, history texts, reasons, referral destinations,
    break-the-glass texts and report notes and locations now, on their request; the
    structured facts stay and the audit log records `file.text_erased`. Counseling center
    only; refused while any case of the student is open."""
    erasure = await in_campus(
        casework,
        principal,
        lambda conn, caller, _: retention.erase_on_request(
            conn, caller, student_ref, body.request_ref
        ),
    )
    return ErasureOut(
        student_ref=erasure.student_ref,
        cases=erasure.cases,
        erased_at=erasure.erased_at,
        request_ref=erasure.request_ref,
    )
