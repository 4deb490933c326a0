"""Rows of an uploaded contacts file, CSV or XLSX, within row, column and size budgets.

Runs in a worker thread (the service layer calls it off the event loop): a hostile workbook
must not stall alerts. openpyxl's read-only mode streams rows; a sheet's `<dimension>` tag is
not trusted (a few kilobytes can claim a million rows), so rows and columns are counted as
they stream and the read stops at the budget.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator

import openpyxl
from openpyxl.utils.exceptions import InvalidFileException

from ..domain.contact_rows import MAX_ROWS
from ..domain.tables import UnreadableFile, csv_rows, is_xlsx

MAX_COLUMNS = 64
MAX_UNPACKED_BYTES = 64 * 1024 * 1024


def table_rows(data: bytes) -> list[list[object]]:
    """Every row of the first sheet (XLSX) or of the CSV, cut to MAX_COLUMNS cells."""
    if not data.strip():
        raise UnreadableFile("empty_file", "文件为空", "the file is empty")
    rows = _xlsx_rows(data) if is_xlsx(data) else csv_rows(data)
    table: list[list[object]] = []
    for row in rows:
        if len(table) > MAX_ROWS + 10:
            break  # the parser reports the row cap with its row number
        table.append(list(row[:MAX_COLUMNS]))
    return table


def _xlsx_rows(data: bytes) -> Iterator[list[object]]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile as exc:
        raise _malformed() from exc
    if unpacked > MAX_UNPACKED_BYTES:
        raise UnreadableFile(
            "xlsx_too_large",
            f"XLSX 解压后超过 {MAX_UNPACKED_BYTES // (1024 * 1024)} MiB，请另存为 CSV 或分批导入",
            f"the XLSX unpacks to more than {MAX_UNPACKED_BYTES // (1024 * 1024)} MiB; "
            "save it as CSV or import it in parts",
        )
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, KeyError, ValueError, zipfile.BadZipFile, OSError) as exc:
        raise _malformed() from exc
    try:
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()
        for row in sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS):
            yield list(row)
    finally:
        workbook.close()


def _malformed() -> UnreadableFile:
    return UnreadableFile(
        "malformed_xlsx", "XLSX 文件已损坏或无法读取", "the XLSX file is damaged or unreadable"
    )
