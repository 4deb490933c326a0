"""Reading one census row as a college exports it: Chinese or English headers, per-row errors.

Pure rules, no I/O: the file reader hands over `(row_number, {header: cell})` pairs and gets
back either a `CensusRow` or the row's errors, each with a zh-CN and an English message.
Row numbers are those a person sees in a spreadsheet (the header is row 1).

A row is graded on what it does say: blanks and unreadable cells leave the row incomplete,
not rejected, so an item-level red flag (PHQ-9 item 9 = 3 with item 3 blank) still reaches
triage. Only a row that cannot be attributed or read at all (no student number, no
instrument, no answer) is rejected. Every defect is listed by spreadsheet row either way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from shouwang_contracts.instruments import INSTRUMENTS, BehaviorRecency, Instrument, InstrumentSpec
from shouwang_servicekit.excel_numbers import excel_number

from . import census_cells as cells_of
from .census_cells import Cell

__all__ = [
    "Cell",
    "CensusRow",
    "Columns",
    "HeaderError",
    "RowError",
    "column_of",
    "parse_row",
]

_STUDENT_NO = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_ITEM_HEADER = re.compile(r"^(?:第\s*(\d+)\s*题|q\s*(\d+)|item[_\s]*(\d+))$", re.IGNORECASE)
_REQUIRED_ZH = {"student_no": "学号", "administered_at": "测评时间"}
# How far in the future a census time may lie: clocks of survey systems drift.
_CLOCK_SKEW = timedelta(minutes=10)

HEADER_ALIASES: dict[str, str] = {
    "学号": "student_no",
    "student_no": "student_no",
    "studentno": "student_no",
    "studentnumber": "student_no",
    "姓名": "name",
    "name": "name",
    "测评时间": "administered_at",
    "施测时间": "administered_at",
    "作答时间": "administered_at",
    "administered_at": "administered_at",
    "administeredat": "administered_at",
    "量表": "instrument",
    "instrument": "instrument",
    "第6题时间": "behavior_recency",
    "行为时间": "behavior_recency",
    "behavior_recency": "behavior_recency",
    "behaviorrecency": "behavior_recency",
    "咨询意愿": "counseling_requested",
    "是否需要咨询": "counseling_requested",
    "counseling_requested": "counseling_requested",
    "counselingrequested": "counseling_requested",
}

INSTRUMENT_NAMES: dict[str, Instrument] = {
    "phq9": Instrument.PHQ9,
    "gad7": Instrument.GAD7,
    "upi": Instrument.UPI,
    "cssrs": Instrument.CSSRS_SCREENER,
    "cssrsscreener": Instrument.CSSRS_SCREENER,
    "scl90": Instrument.SCL90,
}


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem with one cell (or the whole row, field `row`).

    `graded`: the row still went to triage, graded on the cells it does say (flagged
    incomplete when answers are missing); False: the row was rejected.
    """

    row_number: int
    field: str
    code: str
    message: str
    message_en: str
    graded: bool = False


@dataclass(frozen=True, slots=True)
class CensusRow:
    """A census row ready to become a `screening.submitted` event.

    `unanswered` items hold the scale's minimum in `items` (never a guess); `unreadable`
    side fields were read the riskier way (a Q6 yes with no readable recency as within the
    past 3 months, an unreadable time as the upload time, an unreadable counseling request as
    none); `defects` lists each for the row report.
    """

    row_number: int
    student_no: str
    instrument: Instrument
    items: list[int]
    administered_at: datetime
    behavior_recency: BehaviorRecency | None = None
    counseling_requested: bool | None = None
    unanswered: tuple[int, ...] = ()
    unreadable: tuple[str, ...] = ()
    defects: tuple[RowError, ...] = field(default=())

    @property
    def incomplete(self) -> bool:
        """Answers missing or side fields read the riskier way."""
        return bool(self.unanswered or self.unreadable)


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
            column = column_of(cell)
            if isinstance(column, int):  # the first column naming an item is the item's
                items.setdefault(column, index)
            elif column is not None:
                fields.setdefault(column, index)
        missing = [f for f in ("student_no", "administered_at") if f not in fields]
        if missing or not items:
            raise HeaderError(
                "表头缺少必需的列："
                + "、".join([_REQUIRED_ZH[f] for f in missing] + ([] if items else ["第1题…"])),
                "The header lacks required columns: "
                + ", ".join(missing + ([] if items else ["item columns (第1题…)"])),
            )
        return cls(fields, items)


def column_of(cell: Cell) -> str | int | None:
    """What a header cell names: a field, an item number (1-based), or None."""
    name = cells_of.header(cell)
    match = _ITEM_HEADER.match(name)
    if match:
        return int(next(g for g in match.groups() if g))
    return HEADER_ALIASES.get(name.lower().replace("-", "_")) or HEADER_ALIASES.get(name)


def parse_row(
    row_number: int,
    cells: list[Cell],
    columns: Columns,
    *,
    zone: ZoneInfo,
    now: datetime,
    default_instrument: Instrument | None = None,
) -> CensusRow | list[RowError]:
    """Read one data row: the row (with its defects) if it can be graded, else its errors."""
    row = _Row(row_number, cells, columns)

    student_no = cells_of.student_number(row.cell("student_no"))
    # A row's errors never quote its cells: campus-wide readers who never held the file read
    # them too (a campus admin, the counseling center), and they are kept with the batch.
    read = excel_number(row_number, "student_no", "学号", student_no, quote=False)
    if not student_no:
        row.reject("student_no", "missing", "缺少学号", "student number is missing")
    elif not isinstance(read, str):  # scientific notation: the digits are gone
        row.reject(read.field, read.code, read.message, read.message_en)
    elif not _STUDENT_NO.match(student_no := read):
        row.reject(
            "student_no",
            "invalid",
            "学号格式不正确（只能包含字母、数字、- 和 _）",
            "student number is not valid (letters, digits, - and _ only)",
        )

    instrument = default_instrument
    raw_instrument = cells_of.text(row.cell("instrument"))
    if raw_instrument:
        instrument = INSTRUMENT_NAMES.get(re.sub(r"[\s_\-]", "", raw_instrument.lower()))
        if instrument is None:
            row.reject(
                "instrument",
                "unknown",
                "未知量表（可填：PHQ-9、GAD-7、UPI、C-SSRS、SCL-90）",
                "unknown instrument (write PHQ-9, GAD-7, UPI, C-SSRS or SCL-90)",
            )
    elif instrument is None:
        row.reject("instrument", "missing", "缺少量表名称", "instrument is missing")

    administered_at = _administered_at(row, zone, now)
    if instrument is None:
        return row.finish()
    items, unanswered = _answers(row, INSTRUMENTS[instrument])
    recency = _recency(row, instrument, items, unanswered)
    counseling = _counseling(row, instrument)
    if row.rejected:
        return row.finish()
    return CensusRow(
        row_number,
        student_no,
        instrument,
        items,
        administered_at,
        recency,
        counseling,
        unanswered=unanswered,
        unreadable=tuple(row.unreadable),
        defects=tuple(row.errors),
    )


@dataclass
class _Row:
    """One row being read: its cells, and what was found wrong so far."""

    number: int
    cells: list[Cell]
    columns: Columns
    errors: list[RowError] = field(default_factory=list)
    rejected: bool = False
    unreadable: list[str] = field(default_factory=list)

    def cell(self, name: str) -> Cell:
        index = self.columns.fields.get(name)
        return self.cells[index] if index is not None and index < len(self.cells) else None

    def reject(self, name: str, code: str, zh: str, en: str) -> None:
        """A defect that stops the row: it cannot be attributed or read at all."""
        self.rejected = True
        self.errors.append(RowError(self.number, name, code, zh, en))

    def note(self, name: str, code: str, zh: str, en: str, *, assumed: bool = False) -> None:
        """A defect the row is graded around; `assumed`: a side field read the riskier way."""
        self.errors.append(RowError(self.number, name, code, zh, en, graded=True))
        if assumed:
            self.unreadable.append(name)

    def finish(self) -> list[RowError]:
        """A rejected row's errors, its notes among them: nothing of it was published."""
        return [
            RowError(e.row_number, e.field, e.code, e.message, e.message_en) for e in self.errors
        ]


def _administered_at(row: _Row, zone: ZoneInfo, now: datetime) -> datetime:
    """The time the student answered, or the upload time when the cell cannot say it."""
    administered_at = cells_of.time(row.cell("administered_at"), zone)
    if administered_at is None:
        row.note(
            "administered_at",
            "invalid",
            "测评时间无法识别，按上传时间研判",
            "administration time is not a date; graded as of the upload time",
            assumed=True,
        )
        return now
    if administered_at > now + _CLOCK_SKEW:
        row.note(
            "administered_at",
            "future",
            "测评时间晚于当前时间，按上传时间研判",
            "administration time is in the future; graded as of the upload time",
            assumed=True,
        )
        return now
    return administered_at


def _answers(row: _Row, spec: InstrumentSpec) -> tuple[list[int], tuple[int, ...]]:
    """The answers by position; blank or unreadable items are unanswered (scale minimum)."""
    items = [spec.min_value] * spec.item_count
    unanswered = []
    for number in range(1, spec.item_count + 1):
        index = row.columns.items.get(number)
        raw = row.cells[index] if index is not None and index < len(row.cells) else None
        value = cells_of.answer(raw, spec)
        if isinstance(value, int):
            items[number - 1] = value
            continue
        unanswered.append(number)
        if value == "not_integer":
            row.note(
                f"item_{number}",
                "not_integer",
                f"第{number}题不是整数，按未作答处理",
                f"item {number} is not an integer; treated as unanswered",
            )
        elif value == "out_of_range":
            row.note(
                f"item_{number}",
                "out_of_range",
                f"第{number}题取值超出范围{spec.min_value}–{spec.max_value}，按未作答处理",
                f"item {number} is outside {spec.min_value}..{spec.max_value};"
                " treated as unanswered",
            )
    extra = sorted(
        n
        for n, index in row.columns.items.items()
        if n > spec.item_count and index < len(row.cells) and cells_of.text(row.cells[index])
    )
    if extra:
        row.note(
            "items",
            "extra_items",
            f"{spec.name_zh}只有{spec.item_count}题，第{extra[0]}题起的答案未采用",
            f"{spec.name_en} has {spec.item_count} items; answers from item {extra[0]} on"
            " were not used",
        )
    if len(unanswered) == spec.item_count:
        row.reject("items", "no_answers", "没有可识别的答案", "no readable answer")
    else:
        blank = [n for n in unanswered if not any(e.field == f"item_{n}" for e in row.errors)]
        if blank:
            listed = "、".join(map(str, blank))
            row.note(
                "items",
                "unanswered",
                f"第{listed}题未作答；按已作答的题目研判，不计算总分",
                f"item{'s' if len(blank) > 1 else ''} {', '.join(map(str, blank))} left blank;"
                " graded on the answered items, no total computed",
            )
    return items, tuple(unanswered)


def _recency(
    row: _Row, instrument: Instrument, items: list[int], unanswered: tuple[int, ...]
) -> BehaviorRecency | None:
    """C-SSRS Q6's recency; a Q6 yes without a readable one reads as the past 3 months."""
    if instrument is not Instrument.CSSRS_SCREENER:
        return None
    raw = cells_of.text(row.cell("behavior_recency"))
    recency = cells_of.recency(raw)
    behaviour = 6 not in unanswered and items[5] == 1
    if behaviour and recency in (None, BehaviorRecency.NEVER):
        row.note(
            "behavior_recency",
            "recency_assumed",
            "第6题为“是”，但行为时间为空、为“无”或无法识别，按近3个月内处理",
            "Q6 is yes but its recency is blank, says none or cannot be read;"
            " taken as within the past 3 months",
            assumed=True,
        )
        recency = BehaviorRecency.PAST_3_MONTHS
    elif recency is None:
        row.note(
            "behavior_recency",
            "invalid",
            "无法识别的行为时间（可填：近3个月、3个月以上、无）",
            "unknown recency (write: past 3 months, over 3 months ago, or never)",
        )
        recency = BehaviorRecency.NEVER
    return recency


def _counseling(row: _Row, instrument: Instrument) -> bool | None:
    """UPI's counseling request; an unreadable cell reads as none (and is listed)."""
    if instrument is not Instrument.UPI:
        return None
    requested = cells_of.yes_no(row.cell("counseling_requested"))
    if requested is None:
        row.note(
            "counseling_requested",
            "invalid",
            "咨询意愿应为“是”或“否”，无法识别，按未提出处理",
            "counseling request must be yes or no; read as not requested",
            assumed=True,
        )
        requested = False
    return requested
