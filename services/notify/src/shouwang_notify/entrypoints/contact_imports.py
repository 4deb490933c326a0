"""A contacts file's import over HTTP: parsed off the event loop, written all or nothing, and
answered in the caller's language; a file imported before says so (nothing changed, since
when, and how many of its students have no family contact now); a dry run answers what the
import would do and writes nothing but its record."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from fastapi import Request, Response, UploadFile, status
from shouwang_contracts.auth import Principal
from shouwang_contracts.vocabulary import Language
from shouwang_servicekit.problems import Problem, preferred_language
from shouwang_servicekit.rows import RowError
from shouwang_servicekit.spreadsheets import SheetRefused
from shouwang_servicekit.uploads import read_table_upload, refused_upload

from ..adapters.db import campus_transaction
from ..adapters.templates import day_and_time
from ..container import Notify
from ..domain.contact_roster import imported_message, warnings_message
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


def replay_message(
    first: datetime,
    without: int | None,
    zone: ZoneInfo,
    language: Language,
    now: datetime | None = None,
) -> str:
    """What a replayed import tells its operator, in campus time written as notify's messages
    write it ("12月8日 04:53", "08 Dec 04:53"; the year too when it is not this one)."""
    local = first.astimezone(zone)
    this_year = (now or datetime.now(UTC)).astimezone(zone).year
    when = day_and_time(local, language, year=local.year != this_year)
    if language == "en":
        text = f"This file was already imported on {when}; nothing was changed"
        if without:
            verb = "has" if without == 1 else "have"
            text += (
                f". {without} of its students {verb} no family contact on record now (removed "
                "since, e.g. erased on request); an old file does not restore them"
            )
        return text
    text = f"该文件已于 {when} 导入过，本次未做任何更改"
    if without:
        text += f"。文件中有 {without} 名学生现在没有家属联系方式（此后已删除，如按申请删除），旧文件不会恢复"
    return text


def _warning(warning: RowError, language: Language) -> s.RowWarning:
    """A row's warning in the caller's language, as a 422 answers a row's error."""
    message = warning.message_en if language == "en" else warning.message
    return s.RowWarning(row=warning.row, field=warning.field, code=warning.code, message=message)


def _answer(
    result: ImportResult, kind: str, zone: ZoneInfo, language: Language, unnamed_days: int
) -> s.ImportOut:
    assert result.import_id is not None
    message = None
    if result.replayed and result.first_imported_at is not None:
        message = replay_message(
            result.first_imported_at, result.students_without_contacts, zone, language
        )
        if result.dry_run:
            message = ("Dry run: " if language == "en" else "试导入：") + message
    elif result.warnings:
        message = warnings_message(
            kind,
            result.warnings,
            result.imported,
            language,
            dry_run=result.dry_run,
            unnamed_days=unnamed_days,
        )
    elif result.dry_run:
        message = imported_message(result.imported, language, dry_run=True)
    return s.ImportOut(
        kind=kind,
        import_id=result.import_id,
        rows_total=result.rows_total,
        imported=result.imported,
        replayed=result.replayed,
        first_imported_at=result.first_imported_at,
        students_without_contacts=result.students_without_contacts,
        roster_checked=result.roster_checked,
        warnings=[_warning(w, language) for w in result.warnings[:MAX_ERRORS_SHOWN]],
        message=message,
        dry_run=result.dry_run,
    )


async def import_file(
    app: Notify,
    principal: Principal,
    kind: str,
    upload: UploadFile,
    request: Request,
    response: Response,
    *,
    dry_run: bool = False,
) -> s.ImportOut:
    """Import one contacts file for the caller's campus (201), or answer its replay or a dry
    run (200); bad rows are refused (422) and the refusal recorded."""
    data = await read_table_upload(upload, app.settings.max_upload_bytes)
    try:
        parsed = await parse_upload(kind, data)
    except SheetRefused as exc:
        raise refused_upload(exc) from exc
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
            dry_run=dry_run,
        )
    if result.errors:
        raise _row_errors(result.errors)
    created = not (result.replayed or result.dry_run)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    language = preferred_language(request)
    days = app.settings.family_contacts_unnamed_days
    return _answer(result, kind, app.policy.zone, language, days)
