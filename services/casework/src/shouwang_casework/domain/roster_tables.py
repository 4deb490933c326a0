"""Turning an uploaded file into a table of rows: which format, which encoding, which delimiter.

Colleges export rosters as XLSX, as UTF-8 CSV (with or without the BOM Excel writes), and as
GB18030 CSV (what Excel on a Chinese Windows saves). The CSV side is plain Python; XLSX is read
by the adapter (`adapters/roster.py: xlsx_rows`) because it needs openpyxl.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from enum import StrEnum


class TableFormat(StrEnum):
    """The table formats an upload may be in."""

    CSV = "csv"
    XLSX = "xlsx"


class UnreadableFile(Exception):
    """The upload is not a table we can read; `code` is stable, messages in zh-CN and en."""

    def __init__(self, code: str, message: str, message_en: str) -> None:
        super().__init__(message_en)
        self.code = code
        self.message = message
        self.message_en = message_en


_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls / .doc


def detect_format(data: bytes) -> TableFormat:
    """XLSX by its zip signature, CSV when the bytes look like text; refuse anything else."""
    if data.startswith(_ZIP_MAGIC):
        return TableFormat.XLSX
    if data.startswith(_OLE_MAGIC):
        raise UnreadableFile(
            "legacy_excel",
            "不支持旧版 Excel（.xls）文件，请另存为 .xlsx 或 CSV 后上传",
            "legacy Excel (.xls) is not supported; save as .xlsx or CSV",
        )
    if b"\x00" in data[:4096] and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise UnreadableFile(
            "not_a_table",
            "文件不是 CSV 或 XLSX 表格",
            "the file is neither a CSV nor an XLSX table",
        )
    return TableFormat.CSV


def decode_text(data: bytes) -> tuple[str, str]:
    """The text of a CSV and the encoding it was in: UTF-8 (BOM or not), UTF-16, GB18030.

    UTF-8 is tried first and strictly: GB18030 accepts almost any bytes, so it is the fallback,
    never the guess.
    """
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="strict"), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8", errors="strict"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030", errors="strict"), "gb18030"
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            "unknown_encoding",
            "无法识别文件编码，请保存为 UTF-8 或 GB18030 编码的 CSV",
            "cannot tell the file's encoding; save it as UTF-8 or GB18030 CSV",
        ) from exc


def _delimiter(text: str) -> str:
    first_line = text.split("\n", 1)[0]
    counts = {d: first_line.count(d) for d in (",", "\t", ";", "，")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def csv_rows(data: bytes) -> Iterator[list[str]]:
    """The rows of a CSV upload, header first (comma, tab, semicolon or full-width comma)."""
    text, _ = decode_text(data)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    try:
        yield from reader
    except csv.Error as exc:
        raise UnreadableFile(
            "malformed_csv",
            f"CSV 格式错误（第 {reader.line_num} 行），请检查该行内容",
            f"malformed CSV at line {reader.line_num}: {exc}",
        ) from exc
