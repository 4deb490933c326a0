"""Spreadsheet uploads over HTTP: what every import endpoint checks before it parses a file.

Casework's roster imports and notify's contacts imports take the same files (CSV in UTF-8 or
GB18030, or XLSX, as a multipart upload) and must refuse them the same way: 415 for a file that
is no table (an image, legacy `.xls`, text in no encoding we know), 413 over the endpoint's
size limit or a limit of the reader, 422 for an empty file or a damaged table. The edge caps the
request itself; this reads at most `limit + 1` bytes of the file so a file just over its limit is
told so by name rather than cut.

    data = await read_table_upload(upload, settings.max_upload_bytes)
    try:
        rows = await read_table(data, max_rows)
    except SheetRefused as exc:
        raise refused_upload(exc) from exc
"""

from __future__ import annotations

from fastapi import UploadFile

from .problems import Problem
from .spreadsheets import NOT_A_TABLE, SheetRefused

#: What browsers and office tools send for CSV and XLSX files (Windows calls a `.csv`
#: `application/vnd.ms-excel`); none at all or octet-stream are read and judged by content.
TABLE_TYPES = frozenset(
    {
        "text/csv",
        "text/plain",
        "application/csv",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/octet-stream",
        "",
    }
)


async def read_table_upload(upload: UploadFile, limit: int) -> bytes:
    """The uploaded file's bytes, or a `Problem`: 415 not a CSV/XLSX type, 413 over `limit`
    (named in MiB), 422 empty (nothing but whitespace)."""
    content_type = (upload.content_type or "").split(";")[0].strip().lower()
    if content_type not in TABLE_TYPES:
        raise Problem(
            415,
            "unsupported_file_type",
            f"请上传 CSV 或 XLSX 文件（收到的文件类型为 {content_type}）",
            detail_en=f"Upload a CSV or XLSX file (got {content_type})",
        )
    data = await upload.read(limit + 1)
    if len(data) > limit:
        size = _size(limit)
        raise Problem(
            413,
            "file_too_large",
            f"文件超过 {size}，请拆分后上传",
            detail_en=f"The file exceeds {size}; split it",
        )
    if not data.strip():
        raise Problem(422, "empty_file", "文件为空", detail_en="The file is empty")
    return data


def refused_upload(exc: SheetRefused) -> Problem:
    """The reader's refusal as the answer to the upload: its code and words, 415 when the
    file is no table at all, otherwise the status the reader calls for (413 or 422)."""
    return Problem(
        415 if exc.code in NOT_A_TABLE else exc.status,
        exc.code,
        exc.message,
        detail_en=exc.message_en[:1].upper() + exc.message_en[1:],
    )


def _size(limit: int) -> str:
    mib = limit / (1024 * 1024)
    if mib >= 1:
        return f"{mib:g} MiB"
    return f"{max(1, limit // 1024)} KiB"
