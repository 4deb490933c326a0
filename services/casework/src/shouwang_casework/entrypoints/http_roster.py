"""HTTP: roster imports (students and placements, staff assignments) by a campus admin.

Pseudonyms come from SHOUWANG_PSEUDONYM_KEY (the key intake uses, so `student_ref` lines up
across services); `CASEWORK_ROSTER_MAX_UPLOAD_BYTES` lowers the 20 MiB upload limit.

An import is all-or-nothing: a file with any bad row is refused (422, every bad row by number)
and changes nothing but its own record in `roster_imports`. An import is a whole roster
(`mode=snapshot`, the default): students missing from it have left (inactive, file kept) and
assignments missing from it end. `mode=upsert` only adds and updates. `dry_run=true` answers
what would change and writes nothing but the record. Re-importing a file changes nothing.

Staff are identified by 工号/学号, and `person_ref = Pseudonymizer.person_ref(campus, number)`:
the identity provider's token `sub` must be that number for scope checks to find the person.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Coroutine, Iterable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import anyio
import asyncpg
from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi.routing import APIRoute
from shouwang_contracts.auth import Principal
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events.casework import DirectoryEntry, ResponsibleStaff
from shouwang_contracts.trace import current_traceparent
from shouwang_contracts.vocabulary import Role
from shouwang_servicekit.problems import Problem, preferred_language, problem_response
from shouwang_servicekit.security import require_roles
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import Message

from ..adapters import outbox
from ..adapters import roster as repo
from ..adapters.db import campus_transaction
from ..container import Casework
from ..domain.roster import (
    Assignment,
    ResponsibleIndex,
    StudentPlacement,
    affected_by,
    plan_assignment_changes,
    plan_student_changes,
    scopes_without_students,
)
from ..domain.roster_rows import ParsedRoster, RowError, parse_staff, parse_students
from ..domain.roster_tables import TableFormat, UnreadableFile, csv_rows, detect_format
from .http_deps import Container

SOURCE = "/shouwang/casework"
DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024
# Hard cap on the whole request (_UploadRoute); settings may lower the file limit, not raise it.
MAX_REQUEST_BYTES = DEFAULT_MAX_UPLOAD_BYTES + 1024 * 1024
MAX_ERRORS_KEPT = 1000
_ACCEPTED_TYPES = {
    "text/csv",
    "text/plain",
    "application/csv",
    "application/vnd.ms-excel",  # what Windows browsers call a .csv
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/octet-stream",
    "",
}
_NOT_A_TABLE = {"legacy_excel", "not_a_table", "unknown_encoding"}


def _too_large(limit: int) -> tuple[str, str]:
    """The 413's detail in zh-CN and English."""
    mib = limit // (1024 * 1024)
    return f"文件超过 {mib} MiB，请拆分后上传", f"The file exceeds {mib} MiB; split it"


def _too_large_response(request: Request) -> Response:
    zh, en = _too_large(DEFAULT_MAX_UPLOAD_BYTES)
    return problem_response(request, 413, "file_too_large", zh, detail_en=en)


class _BodyTooLarge(HTTPException):
    pass


class _UploadRoute(APIRoute):
    """A route that refuses bodies over MAX_REQUEST_BYTES with a problem+json 413.

    An announced Content-Length is refused before a byte is read; a chunked body is counted
    while it streams in, so an oversize upload is never spooled whole to disk.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """FastAPI's handler, behind the size check."""
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            length = request.headers.get("content-length", "")
            if length.isdigit() and int(length) > MAX_REQUEST_BYTES:
                return _too_large_response(request)
            received = 0
            receive = request.receive

            async def counting_receive() -> Message:
                nonlocal received
                message = await receive()
                received += len(message.get("body", b""))
                if received > MAX_REQUEST_BYTES:
                    # An HTTPException is what FastAPI lets through from body parsing.
                    raise _BodyTooLarge(413)
                return message

            try:
                return await handler(Request(request.scope, counting_receive))
            except _BodyTooLarge:
                return _too_large_response(request)

        return guarded


router = APIRouter(prefix="/v1/roster", tags=["roster"], route_class=_UploadRoute)
CampusAdmin = Annotated[Principal, Depends(require_roles(Role.CAMPUS_ADMIN))]
Mode = Literal["snapshot", "upsert"]
RosterFile = Annotated[UploadFile, File(description="The roster, CSV (UTF-8 or GB18030) or XLSX.")]
ModeParam = Annotated[Mode, Query(description="snapshot: the whole roster; upsert: add/update")]
DryRun = Annotated[bool, Query(description="Report what would change; write nothing.")]


def actor_ref(casework: Casework, principal: Principal) -> str:
    """The caller's pseudonymous reference (audit, import records)."""
    return casework.pseudonymizer.person_ref(principal.campus_id, principal.sub)


async def _read_upload(casework: Casework, upload: UploadFile) -> bytes:
    limit = min(casework.settings.roster_max_upload_bytes, DEFAULT_MAX_UPLOAD_BYTES)
    content_type = (upload.content_type or "").split(";")[0].strip().lower()
    if content_type not in _ACCEPTED_TYPES:
        raise Problem(
            415,
            "unsupported_file_type",
            f"请上传 CSV 或 XLSX 文件（收到的文件类型为 {content_type}）",
            detail_en=f"Upload a CSV or XLSX file (got {content_type})",
        )
    data = await upload.read(limit + 1)
    if len(data) > limit:
        zh, en = _too_large(limit)
        raise Problem(413, "file_too_large", zh, detail_en=en)
    if not data:
        raise Problem(422, "empty_file", "文件为空", detail_en="The file is empty")
    return data


def _table(data: bytes) -> list[Sequence[object]]:
    if detect_format(data) is TableFormat.XLSX:
        return list(repo.xlsx_rows(data))
    return list(csv_rows(data))


async def _parse(data: bytes, parse: Any) -> ParsedRoster[Any]:
    """Read and parse off the event loop (a 20,000-row XLSX takes seconds)."""
    try:
        return await anyio.to_thread.run_sync(lambda: parse(_table(data)))
    except UnreadableFile as exc:
        raise Problem(
            415 if exc.code in _NOT_A_TABLE else 422,
            exc.code,
            exc.message,
            detail_en=exc.message_en,
        ) from exc


def _rejected(record: repo.RosterImport, errors: list[RowError]) -> Problem:
    return Problem(
        422,
        "roster_rows_invalid",
        f"名单中有 {len(errors)} 处错误，本次导入未做任何更改（导入记录 {record.id}）",
        detail_en=f"{len(errors)} errors in the roster; nothing was imported (import {record.id})",
        errors=[
            {
                "row": e.row,
                "field": e.field,
                "code": e.code,
                "message": e.message,
                "message_en": e.message_en,
            }
            for e in errors[:MAX_ERRORS_KEPT]
        ],
        headers={"Location": f"/v1/roster/imports/{record.id}"},
    )


async def _lock_campus_roster(conn: asyncpg.Connection, campus_id: str) -> None:
    # Two imports of one campus at once would each diff against a stale roster.
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('roster:' || $1))", campus_id)


async def enqueue_directory(
    conn: asyncpg.Connection,
    campus_id: str,
    students: Iterable[tuple[str, StudentPlacement, bool]],
) -> int:
    """Put a DirectoryEntry per (student_ref, placement, active) in the outbox; returns how many.

    Responsible staff come from the assignments as they stand in this transaction. Entries
    carry pseudonyms and placement only: never names, numbers or contact details.
    """
    index = ResponsibleIndex(await repo.known_assignments(conn))
    now = datetime.now(UTC)
    traceparent = current_traceparent()
    envelopes = []
    for student_ref, placement, active in students:
        responsible = index.responsible(placement) if active else []
        entry = DirectoryEntry(
            student_ref=student_ref,
            active=active,
            college=placement.college,
            class_name=placement.class_name,
            building=placement.building,
            floor=placement.floor,
            room=placement.room,
            responsible=[ResponsibleStaff(role=Role(r), person_ref=p) for r, p in responsible],
            updated_at=now,
        )
        envelopes.append(
            Envelope.wrap(
                entry,
                source=SOURCE,
                campus_id=campus_id,
                subject=student_ref,
                traceparent=traceparent,
            )
        )
    # One pipelined statement, not a round trip per student: 20,000 entries took ~10 s.
    await outbox.enqueue_many(conn, envelopes)
    return len(envelopes)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@router.post("/students", operation_id="importStudentRoster")
async def import_students(
    request: Request,
    casework: Container,
    principal: CampusAdmin,
    file: RosterFile,
    mode: ModeParam = "snapshot",
    dry_run: DryRun = False,
) -> dict[str, Any]:
    """Import students and their placements; publish the directory entries that changed."""
    data = await _read_upload(casework, file)
    parsed = await _parse(data, parse_students)
    pseudonymizer = casework.pseudonymizer
    campus_id = principal.campus_id
    async with campus_transaction(casework.pool, campus_id) as conn:
        await _lock_campus_roster(conn, campus_id)
        counts: dict[str, int] = {"rows": parsed.rows_total}
        if not parsed.errors:
            changes = plan_student_changes(
                await repo.known_students(conn), parsed.records, snapshot=mode == "snapshot"
            )
            counts |= changes.counts()
            if not dry_run:
                ref = {
                    s.student_no: pseudonymizer.student_ref(campus_id, s.student_no)
                    for s in (*changes.to_save, *changes.deactivated)
                }
                await repo.save_students(
                    conn, campus_id, [(ref[s.student_no], s) for s in changes.to_save]
                )
                await repo.deactivate_students(conn, [s.student_no for s in changes.deactivated])
                counts["directory_entries"] = await enqueue_directory(
                    conn,
                    campus_id,
                    [(ref[s.student_no], s.placement, a) for s, a in changes.directory_changes],
                )
        record = await _record(
            casework, conn, principal, "students", mode, file, data, parsed, counts, dry_run
        )
    if parsed.errors:
        raise _rejected(record, parsed.errors)
    return _import_body(record)


@router.post("/staff", operation_id="importStaffRoster")
async def import_staff(
    request: Request,
    casework: Container,
    principal: CampusAdmin,
    file: RosterFile,
    mode: ModeParam = "snapshot",
    dry_run: DryRun = False,
) -> dict[str, Any]:
    """Import who holds which role for which scope; republish directory entries it touches."""
    data = await _read_upload(casework, file)
    parsed = await _parse(data, parse_staff)
    pseudonymizer = casework.pseudonymizer
    campus_id = principal.campus_id
    async with campus_transaction(casework.pool, campus_id) as conn:
        await _lock_campus_roster(conn, campus_id)
        counts: dict[str, int] = {"rows": parsed.rows_total}
        unmatched: list[tuple[str, str]] = []
        if not parsed.errors:
            people: dict[str, tuple[str, str]] = {}
            incoming: list[Assignment] = []
            for member in parsed.records:
                person_ref = pseudonymizer.person_ref(campus_id, member.staff_no)
                people[person_ref] = (member.staff_no, member.name)
                incoming.append(
                    Assignment(person_ref, member.role, member.scope_kind, member.scope_value)
                )
            snapshot = mode == "snapshot"
            changes = plan_assignment_changes(
                await repo.known_assignments(conn), incoming, snapshot=snapshot
            )
            counts |= {"people": len(people), **changes.counts()}
            placements = await repo.active_placements(conn)
            unmatched = scopes_without_students(placements.values(), incoming)
            counts["scopes_without_students"] = len(unmatched)
            if not dry_run:
                await repo.save_staff(
                    conn, campus_id, people, changes.added, changes.removed, snapshot=snapshot
                )
                touched = affected_by(placements, changes.added | changes.removed)
                counts["directory_entries"] = await enqueue_directory(
                    conn, campus_id, [(ref, placements[ref], True) for ref in sorted(touched)]
                )
        record = await _record(
            casework, conn, principal, "staff", mode, file, data, parsed, counts, dry_run
        )
    if parsed.errors:
        raise _rejected(record, parsed.errors)
    return _import_body(record) | {"warnings": _scope_warnings(request, unmatched)}


def _scope_warnings(request: Request, unmatched: list[tuple[str, str]]) -> list[dict[str, str]]:
    # Usually a spelling that differs between the two exports (8栋 vs 8号楼): the assignment
    # is kept, but nobody is covered by it until the names agree.
    english = preferred_language(request) == "en"
    return [
        {
            "code": "scope_without_students",
            "scope": f"{kind}:{value}",
            "message": (
                f"no active student is placed in {kind} {value}; check the spelling"
                if english
                else f"范围“{value}”下没有在册学生，请核对与学生名单中的写法是否一致"
            ),
        }
        for kind, value in unmatched
    ]


async def _record(
    casework: Casework,
    conn: asyncpg.Connection,
    principal: Principal,
    kind: str,
    mode: str,
    upload: UploadFile,
    data: bytes,
    parsed: ParsedRoster[Any],
    counts: dict[str, int],
    dry_run: bool,
) -> repo.RosterImport:
    status = "rejected" if parsed.errors else ("dry_run" if dry_run else "applied")
    if parsed.errors:
        counts["errors"] = len(parsed.errors)
    return await repo.record_import(
        conn,
        campus_id=principal.campus_id,
        kind=kind,
        mode=mode,
        file_name=(upload.filename or "upload")[:255],
        file_sha256=_sha256(data),
        status=status,
        counts=counts,
        errors=[e.as_dict() for e in parsed.errors[:MAX_ERRORS_KEPT]],
        actor_ref=actor_ref(casework, principal),
    )


def _import_body(record: repo.RosterImport) -> dict[str, Any]:
    return {
        "id": record.id,
        "kind": record.kind,
        "mode": record.mode,
        "status": record.status,
        "file_name": record.file_name,
        "counts": record.counts,
        "errors": record.errors,
        "at": record.at.isoformat(),
    }


@router.get("/imports", operation_id="listRosterImports")
async def list_imports(
    casework: Container,
    principal: CampusAdmin,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> dict[str, Any]:
    """The campus's latest imports, newest first (refused rows only in each import's record)."""
    async with campus_transaction(casework.pool, principal.campus_id) as conn:
        records = await repo.recent_imports(conn, limit)
    return {"items": [_import_body(r) | {"errors": len(r.errors)} for r in records]}


@router.get("/imports/{import_id}", operation_id="getRosterImport")
async def get_import(casework: Container, principal: CampusAdmin, import_id: str) -> dict[str, Any]:
    """One import's record: status, counts, and every refused row by number."""
    async with campus_transaction(casework.pool, principal.campus_id) as conn:
        record = await repo.get_import(conn, import_id)
    if record is None:
        raise Problem(
            404, "import_not_found", "没有这条导入记录", detail_en="No such roster import"
        )
    return _import_body(record)
