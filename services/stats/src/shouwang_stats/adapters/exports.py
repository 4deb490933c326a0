"""Tables as files people open in a spreadsheet: CSV and XLSX, safe against formula injection.

Spreadsheet programs run a cell that starts with `=`, `+`, `-` or `@` (and DDE payloads after a
tab or carriage return) as a formula. A college's name comes from a roster file that anybody
at the college may have typed, so every text cell that could start a formula is neutralised
(OWASP's CSV injection guidance; ASVS 1.2.10 adds the null character): in CSV with a leading apostrophe, in XLSX by storing it as
text with Excel's “quote prefix” (the cell is text even if someone edits it later). Numbers
stay numbers.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\x00")
Cell = str | int | float | None


@dataclass(frozen=True, slots=True)
class Sheet:
    """A titled table: a header row, body rows and notes printed under it."""

    title: str
    header: list[str]
    rows: list[list[Cell]]
    notes: list[str] = field(default_factory=list)


def risky(value: str) -> bool:
    """Whether a spreadsheet would read this text as the start of a formula."""
    return value.startswith(FORMULA_STARTS)


def csv_text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return "'" + value if risky(value) else value
    return str(value)


def to_csv(sheet: Sheet) -> bytes:
    """UTF-8 with a byte-order mark, so Excel shows the Chinese headers as they are."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([csv_text(sheet.title)])
    writer.writerow([csv_text(h) for h in sheet.header])
    for row in sheet.rows:
        writer.writerow([csv_text(v) for v in row])
    for note in sheet.notes:
        writer.writerow([csv_text(note)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(sheet: Sheet) -> bytes:
    """One worksheet: the title, the header in bold, the rows, the notes."""
    book = Workbook()
    ws = book.active
    assert ws is not None
    ws.title = "outcomes"
    _put(ws, 1, [sheet.title])
    ws.cell(1, 1).font = Font(bold=True)
    _put(ws, 2, sheet.header)
    for column in range(1, len(sheet.header) + 1):
        ws.cell(2, column).font = Font(bold=True)
    for i, row in enumerate(sheet.rows):
        _put(ws, 3 + i, row)
    for j, note in enumerate(sheet.notes):
        _put(ws, 3 + len(sheet.rows) + j, [note])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _put(ws: object, row: int, values: list[Cell] | list[str]) -> None:
    for column, value in enumerate(values, start=1):
        cell = ws.cell(row, column)  # type: ignore[attr-defined]
        if isinstance(value, str):
            cell.value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
            # openpyxl itself turns a string starting with `=` into a formula (and `#N/A`
            # into an error): text stays text.
            cell.data_type = "s"
            if risky(value):
                cell.quotePrefix = True
        elif value is not None:
            cell.value = value
