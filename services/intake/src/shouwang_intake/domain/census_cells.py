"""Reading single cells of a census row: text, times, answers and the C-SSRS recency.

Each reader says what the cell holds, or that it could not tell; `census.parse_row` decides
what an unreadable cell means for the row (a blank answer is graded around, never guessed).
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from zoneinfo import ZoneInfo

from shouwang_contracts.instruments import BehaviorRecency, InstrumentSpec
from shouwang_servicekit.rows import bare_header

Cell = str | int | float | datetime | None

_DATE_FORMATS = (
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y-%m-%d",
    "%Y/%m/%d",
)

# Recency cells as survey systems and people write them, after `_folded` (NFKC, no spaces,
# ASCII lower case, 三 as 3). "无"/"没有" mean no behaviour: with Q6 answered yes that is a
# contradiction, which the row reads the riskier way.
_RECENCY: dict[str, BehaviorRecency] = {
    **dict.fromkeys(
        (
            "近3个月",
            "近3月",
            "3个月内",
            "3个月以内",
            "过去3个月",
            "最近3个月",
            "past_3_months",
            "past3months",
        ),
        BehaviorRecency.PAST_3_MONTHS,
    ),
    **dict.fromkeys(
        ("更早", "3个月前", "3个月以前", "超过3个月", "3个月以上", "曾经", "lifetime"),
        BehaviorRecency.LIFETIME,
    ),
    **dict.fromkeys(("", "从未", "无", "没有", "否", "never"), BehaviorRecency.NEVER),
}
_YES = {"是", "有", "yes", "y", "1", "true"}
_NO = {"否", "无", "no", "n", "0", "false", ""}


def text(cell: Cell) -> str:
    """A cell as trimmed text; a whole float (from a spreadsheet) without its `.0`."""
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip()


def header(cell: Cell) -> str:
    """A header cell as compared: NFKC-folded, without spaces, a note in brackets or a
    required-field star (`*学号（必填）`, `第 1 题 (0-3分)`, `Q1`; the kit's `bare_header`)."""
    return "".join(bare_header(cell).split())


def student_number(cell: Cell) -> str:
    """A 学号 cell as written, NFKC-folded (`excel_number` undoes a float's `.0`)."""
    return unicodedata.normalize("NFKC", text(cell))


def _folded(raw: str) -> str:
    folded = unicodedata.normalize("NFKC", raw).replace(" ", "").replace("三", "3")
    return folded.lower() if folded.isascii() else folded


def recency(cell: Cell) -> BehaviorRecency | None:
    """The C-SSRS Q6 recency a cell names, or None when it names none we know."""
    return _RECENCY.get(_folded(text(cell)))


def yes_no(cell: Cell) -> bool | None:
    """True, False (blank is no), or None when the cell is neither."""
    raw = text(cell).lower()
    if raw in _YES:
        return True
    if raw in _NO:
        return False
    return None


def answer(cell: Cell, spec: InstrumentSpec) -> int | str | None:
    """An item's answer; None when blank; `"not_integer"` or `"out_of_range"` when unreadable."""
    raw = text(cell)
    if raw == "":
        return None
    try:
        value = int(float(raw)) if isinstance(cell, float) else int(raw)
    except ValueError:
        return "not_integer"
    if not spec.min_value <= value <= spec.max_value:
        return "out_of_range"
    return value


def time(cell: Cell, zone: ZoneInfo) -> datetime | None:
    """A date-time cell (campus time when it has no offset), or None when it is not one."""
    if isinstance(cell, datetime):
        parsed = cell
    else:
        raw = text(cell)
        if not raw:
            return None
        found: datetime | None = None
        try:
            found = datetime.fromisoformat(raw)
        except ValueError:
            for fmt in _DATE_FORMATS:
                try:
                    found = datetime.strptime(raw, fmt)
                    break
                except ValueError:
                    continue
        if found is None:
            return None
        parsed = found
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)
