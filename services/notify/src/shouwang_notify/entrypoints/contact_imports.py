"""A contacts file's import over HTTP: parsed off the event loop, written all or nothing."""

from __future__ import annotations

from fastapi import Request, Response, UploadFile, status
from shouwang_contracts.auth import Principal
from shouwang_servicekit.problems import Problem
from shouwang_servicekit.rows import RowError
from shouwang_servicekit.spreadsheets import SheetRefused
from shouwang_servicekit.uploads import read_table_upload, refused_upload

from ..adapters.db import campus_transaction
from ..container import Notify
from ..service_layer.contacts import ImportResult, import_contacts, parse_upload
from . import http_schemas as s

MAX_ERRORS_SHOWN = 200


def _row_errors(errors: list[RowError]) -> Problem:
    return Problem(
        422,
        "contact_rows_invalid",
        f"文件中有 {len(errors)} 处错误，本次导入未做任何更改",
        detail_en=f"{len(errors)} errors in the file; nothing was imported",
        errors=[e.as_dict() for e in errors[:MAX_ERRORS_SHOWN]],
    )


def _answer(result: ImportResult, kind: str) -> s.ImportOut:
    assert result.import_id is not None
    return s.ImportOut(
        kind=kind,
        import_id=result.import_id,
        rows_total=result.rows_total,
        imported=result.imported,
        replayed=result.replayed,
    )


async def import_file(
    app: Notify,
    principal: Principal,
    kind: str,
    upload: UploadFile,
    request: Request,
    response: Response,
) -> s.ImportOut:
    """Import one contacts file for the caller's campus (201), or answer its replay (200)."""
    data = await read_table_upload(upload, app.settings.max_upload_bytes)
    try:
        parsed = await parse_upload(kind, data)
    except SheetRefused as exc:
        raise refused_upload(exc) from exc
    if parsed.errors:
        raise _row_errors(parsed.errors)
    async with campus_transaction(app.pool, principal.campus_id) as conn:
        result = await import_contacts(
            conn,
            app.cipher,
            app.pseudonyms,
            campus_id=principal.campus_id,
            kind=kind,
            data=data,
            parsed=parsed,
            imported_by=app.pseudonyms.person_ref(principal.campus_id, principal.sub),
        )
    response.status_code = status.HTTP_200_OK if result.replayed else status.HTTP_201_CREATED
    return _answer(result, kind)
