"""An uploaded contacts file as text rows: which format, which encoding.

Colleges export contacts as XLSX, as UTF-8 CSV (with or without the BOM Excel writes) and as
GB18030 CSV (Excel on a Chinese Windows). The CSV side is plain Python; XLSX rows come from
the adapter (openpyxl), which this module does not import.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls


class UnreadableFile(Exception):
    """The upload is not a table notify can read; `code` is stable, messages zh-CN and en."""

    def __init__(self, code: str, message: str, message_en: str) -> None:
        super().__init__(message_en)
        self.code = code
        self.message = message
        self.message_en = message_en


def is_xlsx(data: bytes) -> bool:
    """XLSX by its zip signature; legacy .xls and binary files are refused."""
    if data.startswith(_ZIP_MAGIC):
        return True
    if data.startswith(_OLE_MAGIC):
        raise UnreadableFile(
            "legacy_excel",
            "不支持旧版 Excel（.xls）文件，请另存为 .xlsx 或 CSV 后上传",
            "legacy Excel (.xls) is not supported; save as .xlsx or CSV",
        )
    if b"\x00" in data[:4096]:
        raise UnreadableFile(
            "not_a_table",
            "文件不是 CSV 或 XLSX 表格",
            "the file is neither a CSV nor an XLSX table",
        )
    return False


def decode_text(data: bytes) -> str:
    """The text of a CSV: UTF-8 (BOM or not) tried strictly first, GB18030 as the fallback
    (it accepts almost any bytes, so it is never the first guess)."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030", errors="strict")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            "unknown_encoding",
            "无法识别文件编码，请保存为 UTF-8 或 GB18030 编码的 CSV",
            "cannot tell the file's encoding; save it as UTF-8 or GB18030 CSV",
        ) from exc


def csv_rows(data: bytes) -> Iterator[list[str]]:
    """Rows of a CSV upload (comma, or the tab/semicolon some exports use)."""
    text = decode_text(data)
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            text[:4096], delimiters=",\t;"
        )
    except csv.Error:
        dialect = csv.excel
    yield from csv.reader(io.StringIO(text), dialect)
