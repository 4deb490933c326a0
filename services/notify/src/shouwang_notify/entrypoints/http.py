"""Notify's API (/v1): contacts for campus admins, the delivery log for the counselling center.

Every operation needs a bearer token; each works inside the caller's campus (row-level
security). Contacts files are parsed off the event loop and imported all or nothing.
"""

from __future__ import annotations

from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, File, Path, Query, Response, UploadFile, status
from shouwang_contracts.auth import Principal
from shouwang_contracts.vocabulary import Role
from shouwang_servicekit.app import app_container
from shouwang_servicekit.problems import Problem
from shouwang_servicekit.rows import RowError
from shouwang_servicekit.security import require_roles

from ..adapters import contact_reads, contacts_repo
from ..adapters import unreached as unreached_rows
from ..adapters.db import campus_transaction
from ..adapters.delivery_log import delivery_log
from ..container import Notify
from ..domain.contact_rows import ON_DUTY_NUMBERS, FamilyRow, StaffRow
from ..domain.contacts import ON_DUTY_REF
from ..service_layer.contacts import family_contact, staff_contact
from . import http_schemas as s
from .contact_bodies import family_rows, staff_row

App = Annotated[Notify, Depends(app_container)]
Admin = Annotated[Principal, Depends(require_roles(Role.CAMPUS_ADMIN))]
AdminJson = Annotated[Principal, Depends(require_roles(Role.CAMPUS_ADMIN, json_body=True))]
Center = Annotated[Principal, Depends(require_roles(Role.COUNSELING_CENTER))]
StaffNumber = Annotated[
    str,
    Path(
        pattern="^([0-9A-Za-z][0-9A-Za-z_-]{0,31}|值班)$",
        description="工号 or 学号 (`值班` for the on-duty contact).",
    ),
]
StudentNumber = Annotated[
    str, Path(pattern="^[0-9A-Za-z][0-9A-Za-z_-]{0,31}$", description="学号.")
]
ContactsFile = Annotated[
    UploadFile, File(description="The contacts file: CSV (UTF-8 or GB18030) or XLSX.")
]

router = APIRouter(prefix="/v1", tags=["notify"])


def _by(app: Notify, principal: Principal) -> str:
    return app.pseudonyms.person_ref(principal.campus_id, principal.sub)


def _reader(app: Notify, principal: Principal) -> contact_reads.Reader:
    return contact_reads.Reader(_by(app, principal), principal.role.value)


@router.get(
    "/contacts/staff",
    operation_id="list_staff_contacts",
    response_model=list[s.StaffContactSummary],
)
async def list_staff_contacts(
    app: App,
    principal: Admin,
    after: Annotated[
        str | None,
        Query(max_length=64, pattern="^[a-z0-9_]+$", description="Continue after this person_ref."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[s.StaffContactSummary]:
    """Staff contacts on file: which channels each has, never the addresses."""
    async with campus_transaction(app.pool, principal.campus_id) as conn:
        found = await contacts_repo.list_staff(conn, principal.campus_id, limit, after)
    return [s.StaffContactSummary(**vars(c)) for c in found]


def _person_ref(app: Notify, principal: Principal, number: str) -> str:
    if number.lower() in ON_DUTY_NUMBERS:
        return ON_DUTY_REF
    return app.pseudonyms.person_ref(principal.campus_id, number)


@router.get(
    "/contacts/staff/{number}", operation_id="get_staff_contact", response_model=s.StaffContactOut
)
async def get_staff_contact(app: App, principal: Admin, number: StaffNumber) -> s.StaffContactOut:
    """One person's contact details, by 工号/学号 (or `值班`). Every answer, "none on file"
    too, is recorded for auditors (`GET /v1/contact-reads`)."""
    async with campus_transaction(app.pool, principal.campus_id) as conn:
        answer = await _staff_answer(conn, app, principal, number, "staff.read")
    if answer is None:  # raised once the trail's row is committed
        raise _not_on_file()
    return answer


async def _staff_answer(
    conn: asyncpg.Connection, app: Notify, principal: Principal, number: str, action: str
) -> s.StaffContactOut | None:
    """One person's contacts (None: none on file), recorded in the trail in the caller's
    transaction, "none on file" too."""
    person_ref = _person_ref(app, principal, number)
    contact = await contacts_repo.get_staff(conn, app.cipher, principal.campus_id, person_ref)
    await contact_reads.record(
        conn,
        principal.campus_id,
        _reader(app, principal),
        action,
        person_ref=person_ref,
        contacts=0 if contact is None else 1,
    )
    if contact is None:
        return None
    return s.StaffContactOut(
        person_ref=person_ref,
        mobile=contact.mobile,
        email=contact.email,
        wecom_user=contact.wecom_user,
        dingtalk_user=contact.dingtalk_user,
        preferred=contact.preferred,
        quiet_hours=str(contact.quiet_hours) if contact.quiet_hours else None,
        language=contact.language,
    )


def _not_on_file() -> Problem:
    return Problem(
        404,
        "contact_not_found",
        "没有此人的联系方式",
        detail_en="No contact on file for this person",
    )


@router.put(
    "/contacts/staff/{number}", operation_id="put_staff_contact", response_model=s.StaffContactOut
)
async def put_staff_contact(
    app: App, principal: AdminJson, number: StaffNumber, body: s.StaffContactBody
) -> s.StaffContactOut:
    """Set one person's contact details (checked as an imported row is)."""
    row = _checked(staff_row(number, body))
    contact = staff_contact(row, principal.campus_id, app.pseudonyms)
    async with campus_transaction(app.pool, principal.campus_id) as conn:
        await contacts_repo.upsert_staff(conn, app.cipher, principal.campus_id, [contact])
        answer = await _staff_answer(conn, app, principal, number, "staff.write")
    assert answer is not None  # just written
    return answer


@router.delete(
    "/contacts/staff/{number}",
    operation_id="delete_staff_contact",
    status_code=status.HTTP_204_NO_CONTENT,
)
async def delete_staff_contact(app: App, principal: Admin, number: StaffNumber) -> Response:
    """Remove one person's contact details."""
    person_ref = _person_ref(app, principal, number)
    async with campus_transaction(app.pool, principal.campus_id) as conn:
        if not await contacts_repo.delete_staff(conn, principal.campus_id, person_ref):
            raise _not_on_file()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/contacts/family/{student_no}",
    operation_id="get_family_contacts",
    response_model=s.FamilyContactsOut,
)
async def get_family_contacts(
    app: App, principal: Admin, student_no: StudentNumber
) -> s.FamilyContactsOut:
    """A student's family contacts, by 学号. Every answer, an empty one too, is recorded for
    auditors (`GET /v1/contact-reads`)."""
    async with campus_transaction(app.pool, principal.campus_id) as conn:
        return await _family_answer(conn, app, principal, student_no, "family.read")


async def _family_answer(
    conn: asyncpg.Connection, app: Notify, principal: Principal, student_no: str, action: str
) -> s.FamilyContactsOut:
    """A student's family contacts, recorded in the trail in the caller's transaction."""
    student_ref = app.pseudonyms.student_ref(principal.campus_id, student_no)
    members = await contacts_repo.family_contacts(
        conn, app.cipher, principal.campus_id, student_ref
    )
    await contact_reads.record(
        conn,
        principal.campus_id,
        _reader(app, principal),
        action,
        student_ref=student_ref,
        contacts=len(members),
    )
    return s.FamilyContactsOut(
        student_ref=student_ref,
        members=[
            s.FamilyMemberBody(
                relation=m.relation,
                name=m.name,
                mobile=m.mobile,
                email=m.email,
                language=m.language,
            )
            for m in members
        ],
    )


@router.put(
    "/contacts/family/{student_no}",
    operation_id="put_family_contacts",
    response_model=s.FamilyContactsOut,
)
async def put_family_contacts(
    app: App, principal: AdminJson, student_no: StudentNumber, body: s.FamilyContactsBody
) -> s.FamilyContactsOut:
    """Replace a student's family contacts (an empty list removes them)."""
    rows: list[FamilyRow] = _checked_all(family_rows(student_no, body))
    student_ref = app.pseudonyms.student_ref(principal.campus_id, student_no)
    async with campus_transaction(app.pool, principal.campus_id) as conn:
        if rows:
            contacts = [family_contact(r, principal.campus_id, app.pseudonyms) for r in rows]
            await contacts_repo.replace_family(conn, app.cipher, principal.campus_id, contacts)
        else:
            await contacts_repo.delete_family(conn, principal.campus_id, student_ref)
        return await _family_answer(conn, app, principal, student_no, "family.write")


def _checked(parsed: tuple[StaffRow | None, list[RowError]]) -> StaffRow:
    row, errors = parsed
    if errors or row is None:
        raise _field_errors(errors)
    return row


def _checked_all(parsed: tuple[list[FamilyRow], list[RowError]]) -> list[FamilyRow]:
    rows, errors = parsed
    if errors:
        raise _field_errors(errors)
    return rows


def _field_errors(errors: list[RowError]) -> Problem:
    return Problem(
        422,
        "contact_invalid",
        "联系方式未通过校验",
        detail_en="The contact details did not pass validation",
        errors=[
            {"field": e.field, "code": e.code, "message": e.message, "message_en": e.message_en}
            for e in errors
        ],
    )


def _delivery(row: asyncpg.Record) -> s.DeliveryOut:
    values: dict[str, Any] = dict(row)
    values.pop("id", None)
    return s.DeliveryOut(**values)


@router.get("/deliveries", operation_id="list_deliveries", response_model=list[s.DeliveryOut])
async def list_deliveries(
    app: App,
    principal: Center,
    status_: Annotated[
        str | None,
        Query(
            alias="status", pattern="^(pending|sending|sent|failed|cancelled|call_task|bundled)$"
        ),
    ] = None,
    alert_id: Annotated[str | None, Query(max_length=64, pattern="^[0-9A-Za-z-]+$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[s.DeliveryOut]:
    """The campus's messages, newest first: who (by kind and role), which channel, what became
    of it. Never an address or a message text."""
    async with campus_transaction(app.pool, principal.campus_id) as conn:
        found = await delivery_log(
            conn, principal.campus_id, status=status_, alert_id=alert_id, before=None, limit=limit
        )
    return [_delivery(r) for r in found]


@router.get("/failures", operation_id="list_failures", response_model=s.FailuresOut)
async def list_failures(
    app: App, principal: Center, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> s.FailuresOut:
    """What did not reach anyone: failed messages, on-duty calls to make, unreachable people."""
    async with campus_transaction(app.pool, principal.campus_id) as conn:
        failed = await delivery_log(
            conn, principal.campus_id, status="failed", alert_id=None, before=None, limit=limit
        )
        calls = await delivery_log(
            conn, principal.campus_id, status="call_task", alert_id=None, before=None, limit=limit
        )
        unreached = await unreached_rows.unreached_list(conn, principal.campus_id, limit)
    return s.FailuresOut(
        failed=[_delivery(r) for r in failed],
        call_tasks=[_delivery(r) for r in calls],
        unreached=[s.UnreachedOut(**dict(r)) for r in unreached],
    )
