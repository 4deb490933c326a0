"""Reading one census row as a college exports it: Chinese or English headers, per-row errors.

Pure rules, no I/O: the file reader hands over `(row_number, {header: cell})` pairs and gets
back either a `CensusRow` or the row's errors, each with a zh-CN and an English message.
Row numbers are those a person sees in a spreadsheet (the header is row 1).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from shouwang_contracts.instruments import INSTRUMENTS, BehaviorRecency, Instrument

Cell = str | int | float | datetime | None

_STUDENT_NO = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_ITEM_HEADER = re.compile(r"^(?:第\s*(\d+)\s*题|q\s*(\d+)|item[_\s]*(\d+))$", re.IGNORECASE)
_DATE_FORMATS = (
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y-%m-%d",
    "%Y/%m/%d",
)
# How far in the future a census time may lie: clocks of survey systems drift.
_CLOCK_SKEW = timedelta(minutes=10)

HEADER_ALIASES: dict[str, str] = {
    "学号": "student_no",
    "student_no": "student_no",
    "student number": "student_no",
    "姓名": "name",
    "name": "name",
    "测评时间": "administered_at",
    "施测时间": "administered_at",
    "作答时间": "administered_at",
    "administered_at": "administered_at",
    "量表": "instrument",
    "instrument": "instrument",
    "第6题时间": "behavior_recency",
    "行为时间": "behavior_recency",
    "behavior_recency": "behavior_recency",
    "咨询意愿": "counseling_requested",
    "是否需要咨询": "counseling_requested",
    "counseling_requested": "counseling_requested",
}

INSTRUMENT_NAMES: dict[str, Instrument] = {
    "phq9": Instrument.PHQ9,
    "gad7": Instrument.GAD7,
    "upi": Instrument.UPI,
    "cssrs": Instrument.CSSRS_SCREENER,
    "cssrsscreener": Instrument.CSSRS_SCREENER,
    "scl90": Instrument.SCL90,
}

_RECENCY: dict[str, BehaviorRecency] = {
    "近3个月": BehaviorRecency.PAST_3_MONTHS,
    "近三个月": BehaviorRecency.PAST_3_MONTHS,
    "三个月内": BehaviorRecency.PAST_3_MONTHS,
    "past_3_months": BehaviorRecency.PAST_3_MONTHS,
    "更早": BehaviorRecency.LIFETIME,
    "三个月前": BehaviorRecency.LIFETIME,
    "lifetime": BehaviorRecency.LIFETIME,
    "从未": BehaviorRecency.NEVER,
    "never": BehaviorRecency.NEVER,
    "": BehaviorRecency.NEVER,
}
_YES = {"是", "有", "yes", "y", "1", "true"}
_NO = {"否", "无", "no", "n", "0", "false", ""}


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem with one cell (or the whole row, field `row`)."""

    row_number: int
    field: str
    code: str
    message: str
    message_en: str


@dataclass(frozen=True, slots=True)
class CensusRow:
    """A valid census row, ready to become a `screening.submitted` event."""

    row_number: int
    student_no: str
    instrument: Instrument
    items: list[int]
    administered_at: datetime
    behavior_recency: BehaviorRecency | None = None
    counseling_requested: bool | None = None


class HeaderError(ValueError):
    """The file's header row cannot be understood at all: why, in zh-CN and in English."""

    def __init__(self, message: str, message_en: str) -> None:
        super().__init__(message)
        self.message = message
        self.message_en = message_en


@dataclass(frozen=True, slots=True)
class Columns:
    """Where each known field sits in the header row."""

    fields: dict[str, int]
    items: dict[int, int]  # item number (1-based) → column index

    @classmethod
    def from_header(cls, header: list[Cell]) -> Columns:
        fields: dict[str, int] = {}
        items: dict[int, int] = {}
        for index, cell in enumerate(header):
            name = _text(cell)
            key = name.lower().replace("-", "_")
            match = _ITEM_HEADER.match(name)
            if match:
                number = int(next(g for g in match.groups() if g))
                items[number] = index
            elif key in HEADER_ALIASES:
                fields.setdefault(HEADER_ALIASES[key], index)
            elif name in HEADER_ALIASES:
                fields.setdefault(HEADER_ALIASES[name], index)
        missing = [f for f in ("student_no", "administered_at") if f not in fields]
        if missing or not items:
            raise HeaderError(
                "表头缺少必需的列：" + "、".join(missing + ([] if items else ["第1题…"])),
                "The header lacks required columns: "
                + ", ".join(missing + ([] if items else ["item columns (第1题…)"])),
            )
        return cls(fields, items)


def parse_row(
    row_number: int,
    cells: list[Cell],
    columns: Columns,
    *,
    zone: ZoneInfo,
    now: datetime,
    default_instrument: Instrument | None = None,
) -> CensusRow | list[RowError]:
    """Validate one data row; return the row or every problem found in it."""
    errors: list[RowError] = []

    def cell(field: str) -> Cell:
        index = columns.fields.get(field)
        return cells[index] if index is not None and index < len(cells) else None

    def fail(field: str, code: str, zh: str, en: str) -> None:
        errors.append(RowError(row_number, field, code, zh, en))

    student_no = unicodedata.normalize("NFKC", _text(cell("student_no")))
    if not student_no:
        fail("student_no", "missing", "缺少学号", "student number is missing")
    elif not _STUDENT_NO.match(student_no):
        fail("student_no", "invalid", "学号格式不正确", "student number is not valid")

    instrument = default_instrument
    raw_instrument = _text(cell("instrument"))
    if raw_instrument:
        instrument = INSTRUMENT_NAMES.get(re.sub(r"[\s_\-]", "", raw_instrument.lower()))
        if instrument is None:
            fail(
                "instrument",
                "unknown",
                f"未知量表：{raw_instrument}",
                f"unknown instrument: {raw_instrument}",
            )
    elif instrument is None:
        fail("instrument", "missing", "缺少量表名称", "instrument is missing")

    administered_at = _parse_time(cell("administered_at"), zone)
    if administered_at is None:
        fail("administered_at", "invalid", "测评时间无法识别", "administration time is not a date")
    elif administered_at > now + _CLOCK_SKEW:
        fail(
            "administered_at",
            "future",
            "测评时间晚于当前时间",
            "administration time is in the future",
        )

    items = _items(row_number, cells, columns, instrument, errors)

    recency = None
    counseling = None
    if instrument is Instrument.CSSRS_SCREENER:
        raw = _text(cell("behavior_recency"))
        recency = _RECENCY.get(raw.lower() if raw.isascii() else raw)
        if recency is None:
            fail(
                "behavior_recency",
                "invalid",
                f"无法识别的行为时间：{raw}",
                f"unknown recency: {raw}",
            )
        elif (
            items is not None
            and len(items) >= 6
            and items[5] == 1
            and recency is BehaviorRecency.NEVER
        ):
            fail(
                "behavior_recency",
                "missing",
                "第6题为“是”时须填写行为时间",
                "Q6 yes needs its recency",
            )
    if instrument is Instrument.UPI:
        raw = _text(cell("counseling_requested")).lower()
        if raw in _YES:
            counseling = True
        elif raw in _NO:
            counseling = False
        else:
            fail(
                "counseling_requested",
                "invalid",
                "咨询意愿应为“是”或“否”",
                "counseling request must be yes or no",
            )

    if errors or instrument is None or administered_at is None or items is None:
        return errors
    return CensusRow(
        row_number, student_no, instrument, items, administered_at, recency, counseling
    )


def _items(
    row_number: int,
    cells: list[Cell],
    columns: Columns,
    instrument: Instrument | None,
    errors: list[RowError],
) -> list[int] | None:
    values: list[int] = []
    ok = True
    for number in sorted(columns.items):
        index = columns.items[number]
        raw = cells[index] if index < len(cells) else None
        text = _text(raw)
        if text == "":
            continue  # an empty trailing cell: counted below against the instrument
        try:
            value = int(float(text)) if isinstance(raw, float) else int(text)
        except ValueError:
            errors.append(
                RowError(
                    row_number,
                    f"item_{number}",
                    "not_integer",
                    f"第{number}题不是整数",
                    f"item {number} is not an integer",
                )
            )
            ok = False
            continue
        values.append(value)
    if instrument is None:
        return values if ok else None
    spec = INSTRUMENTS[instrument]
    if len(values) != spec.item_count:
        errors.append(
            RowError(
                row_number,
                "items",
                "item_count",
                f"{spec.name_zh}应有{spec.item_count}题，实际{len(values)}题",
                f"{spec.name_en} needs {spec.item_count} items, got {len(values)}",
            )
        )
        ok = False
    for number, value in enumerate(values, start=1):
        if not spec.min_value <= value <= spec.max_value:
            errors.append(
                RowError(
                    row_number,
                    f"item_{number}",
                    "out_of_range",
                    f"第{number}题取值{value}超出范围{spec.min_value}–{spec.max_value}",
                    f"item {number} is {value}, outside {spec.min_value}..{spec.max_value}",
                )
            )
            ok = False
    return values if ok else None


def _text(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip()


def _parse_time(cell: Cell, zone: ZoneInfo) -> datetime | None:
    if isinstance(cell, datetime):
        parsed = cell
    else:
        text = _text(cell)
        if not text:
            return None
        parsed_or_none: datetime | None = None
        try:
            parsed_or_none = datetime.fromisoformat(text)
        except ValueError:
            for fmt in _DATE_FORMATS:
                try:
                    parsed_or_none = datetime.strptime(text, fmt)
                    break
                except ValueError:
                    continue
        if parsed_or_none is None:
            return None
        parsed = parsed_or_none
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)
