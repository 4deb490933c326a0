"""The shared samples as colleges' systems really write them, for the tests of every import
(casework's roster, intake's census, notify's contacts): a sample as a table of cells, that
table saved as CSV in an encoding Excel uses (GBK, UTF-8 with a BOM, ...) or as a workbook
with merged cells. Each test file makes its own variants (noted headers, 学号 as numbers)
from these; `hostile_files.py` holds the files an attacker would upload."""

from __future__ import annotations

import io
from typing import Any

import openpyxl

from ._proc import repo_root

Table = list[list[Any]]


def sample(name: str) -> Table:
    """A file of the repository's `samples/` (UTF-8 CSV) as rows of cell texts."""
    text = (repo_root() / "samples" / name).read_text("utf-8")
    return [line.split(",") for line in text.splitlines()]


def as_csv(table: Table, encoding: str = "utf-8") -> bytes:
    """The table saved as CSV the way Excel saves it (CRLF; `utf-8-sig` for a BOM)."""
    lines = (",".join("" if c is None else str(c) for c in row) for row in table)
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def as_xlsx(table: Table, merged: tuple[str, ...] = ()) -> bytes:
    """The table as a workbook, numbers as numbers, with `merged` ranges (e.g. "A1:C1")."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in table:
        sheet.append(row)
    for cells in merged:
        sheet.merge_cells(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def only_error(parsed: Any) -> tuple[int, str, str, str]:
    """The one row error an import's `Parsed` holds (fails when there are none or several): its
    row, field, code and message."""
    assert len(parsed.errors) == 1, parsed.errors
    error = parsed.errors[0]
    return error.row, error.field, error.code, error.message
