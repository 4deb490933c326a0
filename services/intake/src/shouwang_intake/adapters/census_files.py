"""Streaming rows out of uploaded census files: CSV (UTF-8, UTF-8 with BOM, GB18030) or XLSX.

Files arrive spooled to disk by the web server; these readers walk them row by row so a
20,000-row census never sits whole in memory.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections.abc import Generator, Iterator
from datetime import date, datetime
from typing import BinaryIO

from openpyxl import load_workbook

from ..domain.census import Cell

XLSX_MAGIC = b"PK\x03\x04"
_SNIFF_BYTES = 256 * 1024


class UnreadableFile(ValueError):
    """The upload is not a CSV or XLSX file we can read: why, in zh-CN and in English."""

    def __init__(self, message: str, message_en: str) -> None:
        super().__init__(message)
        self.message = message
        self.message_en = message_en


def detect_kind(head: bytes, filename: str | None) -> str:
    """`xlsx` or `csv`, by content first (clients mislabel files), then by name."""
    if head.startswith(XLSX_MAGIC):
        return "xlsx"
    if filename and filename.lower().endswith((".xls", ".xlsm")) and head.startswith(b"\xd0\xcf"):
        raise UnreadableFile(
            "旧版 .xls 格式不受支持，请另存为 .xlsx 或 CSV",
            "The old .xls format is not supported; save the file as .xlsx or CSV",
        )
    if b"\x00" in head[:4096]:
        raise UnreadableFile("文件不是 CSV 或 XLSX", "The file is neither CSV nor XLSX")
    return "csv"


def detect_encoding(head: bytes) -> str:
    """UTF-8 (with or without BOM) when the head decodes as such, else GB18030."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8"


def iter_rows(
    stream: BinaryIO, filename: str | None
) -> Generator[tuple[int, list[Cell]], None, None]:
    """Yield `(row_number, cells)` with spreadsheet row numbers (the header is row 1)."""
    head = stream.read(_SNIFF_BYTES)
    stream.seek(0)
    kind = detect_kind(head, filename)
    if kind == "xlsx":
        yield from _xlsx_rows(stream)
    else:
        yield from _csv_rows(stream, detect_encoding(head))


def _csv_rows(stream: BinaryIO, encoding: str) -> Iterator[tuple[int, list[Cell]]]:
    text = io.TextIOWrapper(stream, encoding=encoding, errors="strict", newline="")
    row_number = 0
    try:
        reader = csv.reader(text)
        for row_number, row in enumerate(reader, start=1):
            if any(cell.strip() for cell in row):
                yield row_number, list(row)
    except UnicodeDecodeError as exc:
        # The encoding is guessed from the head: bytes further on can still not fit it.
        raise UnreadableFile(
            *_stopped(
                f"文件编码无法识别（{encoding}）", f"The file is not valid {encoding}", row_number
            )
        ) from exc
    except csv.Error as exc:
        raise UnreadableFile(f"CSV 格式错误：{exc}", f"The CSV is malformed: {exc}") from exc
    finally:
        text.detach()


def _xlsx_rows(stream: BinaryIO) -> Iterator[tuple[int, list[Cell]]]:
    try:
        workbook = load_workbook(stream, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken archive
        raise UnreadableFile(
            "XLSX 文件已损坏或无法读取", "The XLSX file is damaged or unreadable"
        ) from exc
    row_number = 0
    try:
        sheet = workbook.worksheets[0]
        for row_number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = [_cell(value) for value in row]
            if any(c not in (None, "") for c in cells):
                yield row_number, cells
    except Exception as exc:
        # In read-only mode the sheet's XML is parsed as the rows are read, so a damaged
        # member (ParseError, BadZipFile, zlib.error, a ValueError on a cell...) surfaces
        # here, after rows were handed out. The cause's text may quote a cell: left out.
        raise UnreadableFile(
            *_stopped("XLSX 文件已损坏或无法读取", "The XLSX file is damaged", row_number)
        ) from exc
    finally:
        workbook.close()


def _stopped(zh: str, en: str, last_row: int) -> tuple[str, str]:
    """What went wrong and, once rows were read, after which row reading stopped."""
    if last_row == 0:
        return zh, en
    return (
        f"{zh}：读到第 {last_row} 行后无法继续",
        f"{en}: reading stopped after row {last_row}",
    )


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
    if value is None or isinstance(value, (str, int, float, datetime)):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    return str(value)
