"""Contacts imports (`/v1/imports/...`) for a campus admin: a staff or family contacts file
imported all or nothing, rehearsed (`dry_run=true`: what the import would do, nothing written),
and the list of past imports (applied, dry runs, refused files: who, when, counts)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Query, Request, Response, UploadFile, status
from shouwang_contracts.auth import Principal
from shouwang_contracts.vocabulary import Role
from shouwang_servicekit.app import app_container
from shouwang_servicekit.security import require_roles

from ..adapters import contact_import_records as import_records
from ..adapters.db import campus_transaction
from ..container import Notify
from . import http_schemas as s
from .contact_imports import import_file

App = Annotated[Notify, Depends(app_container)]
Admin = Annotated[Principal, Depends(require_roles(Role.CAMPUS_ADMIN))]
ContactsFile = Annotated[
    UploadFile, File(description="The contacts file: CSV (UTF-8 or GB18030) or XLSX.")
]
DryRun = Annotated[
    bool,
    Query(
        description="Answer what the import would do (imported, warnings, refused rows); "
        "write nothing but the dry run's record."
    ),
]
_IMPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": s.ImportOut, "description": "The same file was imported before, or a dry run."},
    422: {"description": "Rows refused (`errors`, by row number): nothing was imported."},
}

router = APIRouter(prefix="/v1/imports", tags=["notify"])


@router.post(
    "/staff-contacts",
    operation_id="import_staff_contacts",
    response_model=s.ImportOut,
    status_code=status.HTTP_201_CREATED,
    responses=_IMPORT_RESPONSES,
)
async def import_staff_contacts(
    app: App,
    principal: Admin,
    file: ContactsFile,
    request: Request,
    response: Response,
    dry_run: DryRun = False,
) -> s.ImportOut:
    """Import the staff contacts file (工号/学号, 手机, 邮箱, 企业微信, 钉钉, 首选渠道, 免打扰时段);
    the row `值班` is the campus's on-duty contact. All or nothing; the same file twice changes
    nothing. A row whose 工号 holds no role for any student on the roster is imported and
    listed in `warnings` by row number."""
    return await import_file(app, principal, "staff", file, request, response, dry_run=dry_run)


@router.post(
    "/family-contacts",
    operation_id="import_family_contacts",
    response_model=s.ImportOut,
    status_code=status.HTTP_201_CREATED,
    responses=_IMPORT_RESPONSES,
)
async def import_family_contacts(
    app: App,
    principal: Admin,
    file: ContactsFile,
    request: Request,
    response: Response,
    dry_run: DryRun = False,
) -> s.ImportOut:
    """Import the family contacts file (学号, 关系, 联系人姓名, 手机, 邮箱); each student in the
    file gets exactly the contacts the file lists. Whether a family may be contacted is decided
    per case in casework, never by this file. The same file again changes nothing and says so
    (`replayed`, `first_imported_at`, `message`): it does not restore contacts removed since,
    e.g. erased on request (`students_without_contacts`). A row whose 学号 is not on the
    campus's roster is imported and listed in `warnings` by row number (the roster may come
    later)."""
    return await import_file(app, principal, "family", file, request, response, dry_run=dry_run)


@router.get("", operation_id="list_contact_imports", response_model=s.ImportList)
async def list_contact_imports(
    app: App,
    principal: Admin,
    kind: Annotated[Literal["staff", "family"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> s.ImportList:
    """The campus's contacts imports, newest first: applied, dry runs and refused files; who
    (a pseudonym), when, what and how many (refused rows only counted: they quote cells)."""
    async with campus_transaction(app.pool, principal.campus_id) as conn:
        found = await import_records.recent_imports(conn, principal.campus_id, kind, limit)
    return s.ImportList(
        items=[
            s.ImportSummary(
                id=r.import_id,
                kind=r.kind,
                status=r.status,
                counts=r.counts,
                errors=r.counts.get("errors", 0),
                imported_by=r.imported_by,
                at=r.at,
            )
            for r in found
        ]
    )
