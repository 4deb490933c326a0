"""Rows out of uploaded census files: CSV (UTF-8, UTF-8 with BOM, GB18030) or XLSX.

The kit's safe spreadsheet reader parses them in a worker process within CPU, memory, row,
column and unpacked-size budgets (`shouwang_servicekit.spreadsheets`) and hands the rows back
in batches, so a 20,000-row census never holds up the event loop and the rows read before a
damaged part are still published.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncGenerator
from datetime import date, datetime
from typing import BinaryIO

from shouwang_servicekit.spreadsheets import NOT_A_TABLE, SheetLimits, SheetRefused, read_sheet
from shouwang_servicekit.spreadsheets import detect_encoding as detect_encoding

from ..domain.census import Cell


class UnreadableFile(ValueError):
    """The upload is not a census we can read, or costs more than its limits allow: why, in
    zh-CN and in English, with the status (422; 413 over a limit; 415 when it is no table at
    all, as casework's and notify's imports answer) and a stable code."""

    def __init__(
        self, message: str, message_en: str, *, status: int = 422, code: str = "unreadable_file"
    ) -> None:
        super().__init__(message)
        self.message = message
        self.message_en = message_en
        self.status = status
        self.code = code


async def sheet_rows(
    data: bytes, limits: SheetLimits
) -> AsyncGenerator[tuple[int, list[Cell]], None]:
    """Yield `(row_number, cells)` of the non-empty rows, with spreadsheet row numbers (the
    header is row 1), read by the kit's worker process within `limits`."""
    try:
        async for batch in read_sheet(data, limits=limits):
            for number, cells in batch:
                yield number, [_cell(value) for value in cells]
    except SheetRefused as refused:
        if refused.status == 413:  # over a limit: the kit's words name the row or limit
            raise UnreadableFile(
                refused.message, refused.message_en, status=413, code=refused.code
            ) from None
        if refused.code in NOT_A_TABLE and refused.last_row == 0:
            # An image or a legacy .xls: the kit's code and words say what to upload instead.
            # Once rows were read (an encoding that breaks midway) they were published, and the
            # answer is the 422 below naming the row reading stopped after.
            raise UnreadableFile(
                refused.message,
                _capitalised(refused.message_en),
                status=415,
                code=refused.code,
            ) from None
        message = refused.message if refused.code != "empty_file" else "文件为空"
        raise UnreadableFile(
            *_stopped(message, _capitalised(refused.message_en), refused.last_row)
        ) from None


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _stopped(zh: str, en: str, last_row: int) -> tuple[str, str]:
    """What went wrong and, once rows were read, after which row reading stopped."""
    if last_row == 0:
        return zh, en
    return (
        f"{zh}：读到第 {last_row} 行后无法继续",
        f"{en}: reading stopped after row {last_row}",
    )


def read_upload(stream: BinaryIO) -> bytes:
    """The whole upload (the edge capped its size), for the worker that parses it."""
    stream.seek(0)
    return stream.read()


def sha256_of(stream: BinaryIO) -> str:
    """Digest of the whole upload (a re-upload of the same file is the same batch)."""
    digest = hashlib.sha256()
    stream.seek(0)
    for chunk in iter(lambda: stream.read(1024 * 1024), b""):
        digest.update(chunk)
    stream.seek(0)
    return digest.hexdigest()


def _cell(value: object) -> Cell:
    """Spreadsheet values as the row parser knows them: text, numbers, datetimes or None."""
    if isinstance(value, bool):
        return str(value)
    if value is None or isinstance(value, (str, int, float, datetime)):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    return str(value)
