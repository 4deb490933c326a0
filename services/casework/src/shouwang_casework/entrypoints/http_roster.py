"""HTTP: roster imports (students and placements, staff assignments) by a campus admin.

The use cases are `service_layer.roster`'s (all-or-nothing, snapshot or upsert, dry runs);
this reads the upload (its type and size, under `CASEWORK_ROSTER_MAX_UPLOAD_BYTES`; the edge
caps the request) and answers what they did. A file with bad rows is refused with 422, every
bad row by number, and a `Location` of its import record.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from shouwang_contracts.auth import Principal
from shouwang_contracts.vocabulary import Role
from shouwang_servicekit.problems import Problem, preferred_language
from shouwang_servicekit.rows import Parsed
from shouwang_servicekit.security import require_roles
from shouwang_servicekit.uploads import read_table_upload

from ..adapters.roster import ImportMode, RosterImport
from ..container import Casework
from ..domain.guards import CaseRuleViolation
from ..service_layer import roster
from . import http_records_schemas as s
from .http_common import Container, in_campus, refusal

router = APIRouter(prefix="/v1/roster", tags=["roster"])
CampusAdmin = Annotated[Principal, Depends(require_roles(Role.CAMPUS_ADMIN))]
RosterUpload = Annotated[
    UploadFile, File(description="The roster, CSV (UTF-8 or GB18030) or XLSX.")
]
ModeParam = Annotated[
    ImportMode, Query(description="snapshot: the whole roster; upsert: add/update")
]
DryRun = Annotated[bool, Query(description="Report what would change; write nothing.")]

_IMPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    413: {"description": "The file is over the roster's size limit."},
    415: {"description": "Not a CSV or XLSX file (legacy .xls, an image, ...)."},
    422: {"description": "Rows refused (`errors`, by row number; `Location`: the record)."},
}


async def _read_upload(limit: int, upload: UploadFile) -> roster.RosterFile:
    return roster.RosterFile(upload.filename or "upload", await read_table_upload(upload, limit))


async def _parsed(
    read: Callable[[roster.RosterFile], Awaitable[Parsed[Any]]], upload: roster.RosterFile
) -> Parsed[Any]:
    try:
        return await read(upload)
    except CaseRuleViolation as exc:
        raise refusal(exc) from exc


def _rows_refused(outcome: roster.ImportOutcome) -> Problem:
    record, errors = outcome.record, outcome.refused_rows
    return Problem(
        422,
        "roster_rows_invalid",
        f"名单中有 {len(errors)} 处错误，本次导入未做任何更改（导入记录 {record.id}）",
        detail_en=f"{len(errors)} errors in the roster; nothing was imported (import {record.id})",
        errors=[e.as_dict() for e in errors[: roster.MAX_ERRORS_KEPT]],
        headers={"Location": f"/v1/roster/imports/{record.id}"},
    )


def _import_out(outcome: roster.ImportOutcome, request: Request | None = None) -> s.RosterImportOut:
    record = outcome.record
    english = request is not None and preferred_language(request) == "en"
    return s.RosterImportOut(
        id=record.id,
        kind=record.kind,
        mode=record.mode,
        status=record.status,
        file_name=record.file_name,
        counts=record.counts,
        errors=[s.RowErrorOut.model_validate(e) for e in record.errors],
        at=record.at,
        warnings=[
            s.ScopeWarningOut(
                code="scope_without_students",
                scope=f"{kind}:{value}",
                message=(
                    f"no active student is placed in {kind} {value}; check the spelling"
                    if english
                    else f"范围“{value}”下没有在册学生，请核对与学生名单中的写法是否一致"
                ),
            )
            for kind, value in outcome.scopes_without_students
        ],
    )


ImportUseCase = Callable[..., Awaitable[roster.ImportOutcome]]


async def _import(
    casework: Casework,
    principal: Principal,
    file: UploadFile,
    read: Callable[[roster.RosterFile], Awaitable[Parsed[Any]]],
    use_case: ImportUseCase,
    *,
    mode: ImportMode,
    dry_run: bool,
    seals_history: bool,
    request: Request,
) -> s.RosterImportOut:
    upload = await _read_upload(casework.settings.roster_max_upload_bytes, file)
    parsed = await _parsed(read, upload)
    outcome = await in_campus(
        casework,
        principal,
        lambda conn, caller, cw: use_case(
            conn,
            caller,
            cw.pseudonymizer,
            upload,
            parsed,
            mode=mode,
            dry_run=dry_run,
            placement=cw.placement,
            **({"cipher": cw.cipher} if seals_history else {}),
        ),
    )
    if outcome.refused_rows:
        raise _rows_refused(outcome)
    return _import_out(outcome, request)


@dataclass(frozen=True, slots=True)
class _RosterKind:
    """One kind of roster file and its import endpoint (`name` is its operation id)."""

    path: str
    name: str
    doc: str
    read: Callable[[roster.RosterFile], Awaitable[Parsed[Any]]]
    use_case: ImportUseCase
    # The import writes case history (the staff import hands cases over), which seals its
    # free text: the use case takes the note cipher.
    seals_history: bool = False


_ROSTER_KINDS = (
    _RosterKind(
        "/students",
        "import_student_roster",
        "Import students and their placements; publish the directory entries that changed.",
        roster.read_students,
        roster.import_students,
    ),
    _RosterKind(
        "/staff",
        "import_staff_roster",
        "Import who holds which role for which scope; republish directory entries it touches.",
        roster.read_staff,
        roster.import_staff,
        seals_history=True,
    ),
)


def _import_endpoint(kind: _RosterKind) -> Callable[..., Awaitable[s.RosterImportOut]]:
    async def endpoint(
        request: Request,
        casework: Container,
        principal: CampusAdmin,
        file: RosterUpload,
        mode: ModeParam = "snapshot",
        dry_run: DryRun = False,
    ) -> s.RosterImportOut:
        return await _import(
            casework,
            principal,
            file,
            kind.read,
            kind.use_case,
            mode=mode,
            dry_run=dry_run,
            seals_history=kind.seals_history,
            request=request,
        )

    endpoint.__name__ = endpoint.__qualname__ = kind.name
    endpoint.__doc__ = kind.doc
    return endpoint


for _kind in _ROSTER_KINDS:
    router.add_api_route(
        _kind.path,
        _import_endpoint(_kind),
        methods=["POST"],
        operation_id=_kind.name,
        response_model=s.RosterImportOut,
        responses=_IMPORT_RESPONSES,
    )


def _summary(record: RosterImport) -> s.RosterImportSummary:
    return s.RosterImportSummary(
        id=record.id,
        kind=record.kind,
        mode=record.mode,
        status=record.status,
        file_name=record.file_name,
        counts=record.counts,
        errors=len(record.errors),
        at=record.at,
    )


@router.get("/imports", operation_id="list_roster_imports", response_model=s.RosterImportList)
async def list_roster_imports(
    casework: Container,
    principal: CampusAdmin,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> s.RosterImportList:
    """The campus's latest imports, newest first (refused rows only in each import's record)."""
    records = await in_campus(
        casework, principal, lambda conn, caller, _: roster.recent_imports(conn, caller, limit)
    )
    return s.RosterImportList(items=[_summary(r) for r in records])


@router.get(
    "/imports/{import_id}", operation_id="get_roster_import", response_model=s.RosterImportOut
)
async def get_roster_import(
    casework: Container, principal: CampusAdmin, import_id: str
) -> s.RosterImportOut:
    """One import's record: status, counts, and every refused row by number."""
    record = await in_campus(
        casework, principal, lambda conn, caller, _: roster.roster_import(conn, caller, import_id)
    )
    return _import_out(roster.ImportOutcome(record, [], []))
