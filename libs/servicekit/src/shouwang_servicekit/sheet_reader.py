"""The spreadsheet parser `spreadsheets.read_sheet` runs in its worker process: XLSX and CSV
read within `SheetLimits`, refusals as `SheetRefused`.

Nothing here protects the caller from the CPU, memory or time a hostile file costs: run only
in the worker, under its resource limits (`spreadsheets`). What it does itself: the XLSX's
unpacked size checked before reading, rows built from the cells the XML holds (never from
the sheet's `<dimension>` claim), every row number counted against `max_rows`, CSV decoded
as it is read.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

#: What a cell holds once read: text, a number, a truth value, a date-time, or nothing.
Cell = str | int | float | bool | datetime | None
#: One non-empty row: its spreadsheet row number and its cells (never wider than the limit).
Row = tuple[int, list[Cell]]

MiB = 1024 * 1024
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls / .doc


@dataclass(frozen=True, slots=True)
class SheetLimits:
    """What one upload may cost. The defaults fit a 100,000-row census of a few dozen
    columns with room to spare."""

    max_rows: int = 100_000  # data rows after the first, empty ones included
    max_columns: int = 256
    max_unpacked_bytes: int = 256 * MiB  # all XLSX members together, as the archive lists them
    cpu_seconds: int = 120
    memory_bytes: int = 1536 * MiB  # the worker's whole address space
    stall_seconds: float = 60.0  # longest wait for the worker's next batch
    sniff_delimiter: bool = False  # CSV: comma, or the likeliest of , tab ; and ，


#: Refusals that mean the file is no table at all (answered 415 whatever it was sent as), even
#: one whose text stops decoding part way.
NOT_A_TABLE = frozenset({"legacy_excel", "not_a_table", "unknown_encoding"})


class SheetRefused(Exception):
    """The upload is not a table we read, or costs more than its limits allow."""

    def __init__(
        self,
        code: str,
        message: str,
        message_en: str,
        *,
        status: int = 422,
        row: int | None = None,
        limit: int | None = None,
        last_row: int = 0,
    ) -> None:
        super().__init__(message_en)
        self.code = code
        self.message = message
        self.message_en = message_en
        self.status = status
        self.row = row
        self.limit = limit
        self.last_row = last_row  # the last row handed out before reading stopped

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "message_en": self.message_en,
            "status": self.status,
            "row": self.row,
            "limit": self.limit,
            "last_row": self.last_row,
        }


def checked_rows(data: bytes, limits: SheetLimits) -> Iterator[Row]:
    """The checked, non-empty rows of the upload."""
    if not data.strip():
        raise SheetRefused("empty_file", "文件为空", "the file is empty")
    if data.startswith(_ZIP_MAGIC):
        rows = _xlsx_rows(data, limits)
    elif data.startswith(_OLE_MAGIC):
        raise SheetRefused(
            "legacy_excel",
            "不支持旧版 Excel（.xls）文件，请另存为 .xlsx 或 CSV 后上传",
            "legacy Excel (.xls) is not supported; save as .xlsx or CSV",
            status=415,
        )
    elif b"\x00" in data[:4096] and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise SheetRefused(
            "not_a_table",
            "文件不是 CSV 或 XLSX 表格",
            "the file is neither CSV nor XLSX",
            status=415,
        )
    else:
        rows = _csv_rows(data, limits)
    for number, cells in rows:
        _check_row(number, limits)
        if len(cells) > limits.max_columns:
            raise _too_wide(number, len(cells), limits)
        if any(cell not in (None, "") for cell in cells):
            yield number, cells


def _check_row(number: int, limits: SheetLimits) -> None:
    if number > limits.max_rows + 1:  # the first row is the header
        raise SheetRefused(
            "too_many_rows",
            f"表格超过 {limits.max_rows} 行（含空行），在第 {number} 行停止读取；请拆分文件或删去多余的空行",
            f"the sheet has more than {limits.max_rows} rows (empty ones count); reading "
            f"stopped at row {number}: split the file or delete unused rows",
            status=413,
            row=number,
            limit=limits.max_rows,
        )


def _too_wide(number: int, column: int, limits: SheetLimits) -> SheetRefused:
    return SheetRefused(
        "too_many_columns",
        f"第 {number} 行有内容写到第 {column} 列，超过 {limits.max_columns} 列的上限；请删去多余的列",
        f"row {number} has a cell in column {column}, past the limit of {limits.max_columns} "
        "columns; delete the unused columns",
        status=413,
        row=number,
        limit=limits.max_columns,
    )


def _damaged(message_en: str, exc: BaseException | None = None) -> SheetRefused:
    # The cause's own text may quote a cell (personal data): only its kind is kept.
    kind = f" ({type(exc).__name__})" if exc is not None else ""
    return SheetRefused(
        "malformed_xlsx",
        "XLSX 文件已损坏或无法读取",
        message_en + kind,
    )


def _xlsx_rows(data: bytes, limits: SheetLimits) -> Iterator[Row]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _damaged("the XLSX file is damaged or not an Excel workbook", exc) from None
    if unpacked > limits.max_unpacked_bytes:
        raise SheetRefused(
            "xlsx_unpacks_too_large",
            f"XLSX 文件解压后超过 {limits.max_unpacked_bytes // MiB} MiB，请拆分后上传",
            f"the XLSX file unpacks to more than {limits.max_unpacked_bytes // MiB} MiB; split it",
            status=413,
            limit=limits.max_unpacked_bytes,
        )
    import openpyxl
    from openpyxl.worksheet._reader import WorkSheetParser

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
    except MemoryError:
        raise
    except Exception as exc:  # openpyxl raises many kinds for a broken archive
        raise _damaged("the XLSX file is damaged or not an Excel workbook", exc) from None
    # The sheet's own <dimension> is a claim, not a fact: rows are built from the cells the
    # XML holds (openpyxl's read-only rows would be padded to the claimed width). The parser
    # is the one openpyxl's read-only sheet uses; its reading of values and dates is kept.
    try:
        with sheet._get_source() as source:  # type: ignore[attr-defined]
            parser = WorkSheetParser(
                source,
                sheet._shared_strings,  # type: ignore[attr-defined]
                data_only=True,
                epoch=workbook.epoch,
                date_formats=workbook._date_formats,  # type: ignore[attr-defined]
                timedelta_formats=workbook._timedelta_formats,  # type: ignore[attr-defined]
            )
            for number, cells in parser.parse():
                _check_row(number, limits)
                width = max((c["column"] for c in cells), default=0)
                if width > limits.max_columns:
                    raise _too_wide(number, width, limits)
                row: list[Cell] = [None] * width
                for cell in cells:
                    row[cell["column"] - 1] = _cell(cell["value"])
                yield number, row
    except (SheetRefused, MemoryError):
        raise
    except Exception as exc:
        # Read-only parsing happens as rows are read: a damaged member surfaces midway.
        raise _damaged("the XLSX file is damaged", exc) from None
    finally:
        workbook.close()


def _cell(value: object) -> Cell:
    if value is None or isinstance(value, str | bool | int | float | datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, time | timedelta):
        return str(value)
    return str(value)


_SNIFF_BYTES = 256 * 1024


def detect_encoding(head: bytes) -> Literal["utf-8-sig", "utf-16", "utf-8", "gb18030"]:
    """The encoding of a CSV, from its first bytes: UTF-8 (BOM or not), UTF-16 (BOM), else
    GB18030 (what Excel on a Chinese Windows saves). UTF-8 is tried first and strictly:
    GB18030 accepts almost any bytes, so it is the fallback, never the guess."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8"


def _delimiter(first_line: str, sniff: bool) -> str:
    if not sniff:
        return ","
    counts = {d: first_line.count(d) for d in (",", "\t", ";", "，")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _csv_rows(data: bytes, limits: SheetLimits) -> Iterator[Row]:
    """Rows decoded as they are read, so the rows before a byte the guessed encoding cannot
    read are handed out, and the refusal says after which row reading stopped."""
    head = data[:_SNIFF_BYTES]
    encoding = detect_encoding(head)
    first_line = head.split(b"\n", 1)[0].decode(encoding, errors="replace")
    text = io.TextIOWrapper(io.BytesIO(data), encoding=encoding, errors="strict", newline="")
    reader = csv.reader(text, delimiter=_delimiter(first_line, limits.sniff_delimiter))
    number = 0
    try:
        for number, row in enumerate(reader, start=1):
            yield number, list(row)
    except UnicodeDecodeError:
        raise SheetRefused(
            "unknown_encoding",
            f"文件编码无法识别（{encoding}），请保存为 UTF-8 或 GB18030 编码的 CSV",
            f"the file is not valid {encoding}; save it as UTF-8 or GB18030 CSV",
            last_row=number,
        ) from None
    except csv.Error:
        raise SheetRefused(
            "malformed_csv",
            f"CSV 格式错误（第 {reader.line_num} 行），请检查该行内容",
            f"malformed CSV at line {reader.line_num}",
            row=reader.line_num,
            last_row=number,
        ) from None
