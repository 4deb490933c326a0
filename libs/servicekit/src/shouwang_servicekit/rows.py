"""Reading the rows of an imported table as colleges export them: the generic half.

A roster or a contacts file arrives as a table (`read_table`: the header first, empty rows
kept so row numbers stay true). Each service says which columns it knows (`Columns`: the
field each header text stands for, Chinese export headers first) and what a valid row is;
this module does the rest the same way for every import:

- finds the header among the top rows, so a title line above it ("2024级学生名单") is passed
  over, folds a header merged over two rows (`住宿信息` over 楼栋 / 楼层 / 寝室) into one
  (`fold_header`), and matches header texts loosely (full-width letters, case, spaces, `_`
  and `-`, and a template's note or star: `*学号（必填）`, `楼层(层)`; `bare_header`);
- hands out each data row's cells by field, trimmed and NFKC-folded (`clean`), with its
  spreadsheet row number (the header is usually row 1), counting rows against a cap;
- collects why rows cannot be used as `RowError`s (row, field, a stable code, zh-CN and
  English messages) in `Parsed` (`parse_rows`, repeats of a key included), so an import can
  be all or nothing with errors by row;
- normalises what every import meets: 学号/工号 (`person_number`), mainland mobile numbers
  (`mobile_number`), email addresses (`is_email`), names from a vocabulary (`lookup_name`).

What Excel does to a column of numbers (学号, 手机号) is undone or named in `excel_numbers`.

Standard library only (and the kit's spreadsheet reader for `read_table`), so a service's
domain layer can use it.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Generic, TypeVar

from .spreadsheets import Cell, SheetLimits, read_sheet

T = TypeVar("T")
V = TypeVar("V")
C = TypeVar("C")

#: A data row's cells by field name: cleaned text, None where blank or absent.
Cells = dict[str, str | None]


@dataclass(frozen=True, slots=True)
class RowError:
    """Why one row (or the header) cannot be imported: `row` is the spreadsheet row number,
    `field` the column's field name ("" for the whole row), `code` stable."""

    row: int
    field: str
    code: str
    message: str
    message_en: str

    def as_dict(self) -> dict[str, object]:
        """The error as stored or answered (both languages)."""
        return asdict(self)


@dataclass(slots=True)
class Parsed(Generic[T]):
    """Records read from a table, the errors of the rows refused, and how many data rows
    there were (blank ones not counted)."""

    records: list[T] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    rows_total: int = 0


@dataclass(frozen=True, slots=True)
class Columns:
    """The columns one kind of file has.

    `headers` maps each field to the header texts that stand for it; the first (zh-CN) names
    the column in errors. A column not listed is ignored, so an export carrying more than
    the import needs leaves it behind. `required` fields must all be in the header.
    """

    headers: Mapping[str, tuple[str, ...]]
    required: tuple[str, ...] = ()
    #: Data rows read before the file is refused ("import it in parts").
    max_rows: int = 100_000
    #: How far down the header may stand (below title lines).
    header_search_rows: int = 5
    #: Runs of inner whitespace in a cell become one space ("张  三" → "张 三").
    collapse_spaces: bool = True
    #: A row is passed over when every known column is blank, whatever unknown ones hold;
    #: by default a row counts when any of its cells holds something.
    skip_rows_blank_in_known_columns: bool = False

    def __post_init__(self) -> None:
        # Header texts are compared loosely: two fields must not claim the same header.
        owner: dict[str, str] = {}
        for name, aliases in self.headers.items():
            for alias in aliases:
                other = owner.setdefault(header_key(alias), name)
                if other != name:
                    raise ValueError(f"header {alias!r} stands for both {other!r} and {name!r}")
        unknown = set(self.required) - set(self.headers)
        if unknown:
            raise ValueError(f"required fields without headers: {sorted(unknown)}")


def clean(value: object, *, collapse_spaces: bool = True) -> str | None:
    """A cell as trimmed NFKC text (full-width digits, letters and spaces folded), None when
    blank. A whole float is written without `.0`: XLSX stores 13800000001 and 2024001 so."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = unicodedata.normalize("NFKC", str(value))
    text = " ".join(text.split()) if collapse_spaces else text.strip()
    return text or None


def header_key(text: object) -> str:
    """A header text as compared: cleaned, lower case, without spaces, `_` or `-`."""
    return re.sub(r"[\s_\-]", "", (clean(text) or "").lower())


_NOTE = re.compile(r"[(（\[【][^)）\]】]*[)）\]】]")
_STAR = re.compile(r"^[*＊]+|[*＊]+$")


def bare_header(text: object) -> str:
    """A header text cleaned and without what templates add to it: a note in brackets and a
    required-field star (`*学号（必填）` → `学号`, `楼层(层)` → `楼层`); "" when blank."""
    return _STAR.sub("", _NOTE.sub("", clean(text) or "")).strip()


def fold_header(upper: Sequence[C], lower: Sequence[C]) -> list[C | None]:
    """A header of two rows as one: a column's name from the lower row where it has one (the
    columns under a group label merged across them), else from the upper row (the columns
    merged down over both rows)."""
    width = max(len(upper), len(lower))
    return [
        lower[i] if i < len(lower) and clean(lower[i]) else (upper[i] if i < len(upper) else None)
        for i in range(width)
    ]


def _lookup(columns: Columns) -> dict[str, str]:
    return {
        header_key(alias): name for name, aliases in columns.headers.items() for alias in aliases
    }


def _field_of(cell: object, lookup: Mapping[str, str]) -> str | None:
    """The field a header cell names, as written or without its note or star."""
    return lookup.get(header_key(cell)) or lookup.get(header_key(bare_header(cell)))


def _names_columns(row: Sequence[object], lookup: Mapping[str, str]) -> bool:
    """Whether every non-blank cell of `row` names a known column (a second header row)."""
    named = [_field_of(cell, lookup) for cell in row if clean(cell)]
    return bool(named) and all(named)


def map_headers(
    header: Sequence[object], columns: Columns, *, row: int = 1
) -> tuple[dict[str, int], list[RowError]]:
    """The column index of each known field in `header`, and the errors of a repeated or
    a missing required column."""
    lookup = _lookup(columns)
    found: dict[str, int] = {}
    errors: list[RowError] = []
    for index, cell in enumerate(header):
        name = _field_of(cell, lookup)
        if name is None:
            continue
        if name in found:
            errors.append(
                RowError(
                    row, name, "duplicate_column", f"表头重复：{cell}", f"duplicate column: {cell}"
                )
            )
        found[name] = index
    for name in columns.required:
        if name not in found:
            zh = columns.headers[name][0]
            errors.append(
                RowError(
                    row,
                    name,
                    "missing_column",
                    f"缺少必需的列：{zh}",
                    f"missing required column: {zh} ({name})",
                )
            )
    return found, errors


def cells_by_row(
    table: Iterable[Sequence[object]], columns: Columns, parsed: Parsed[T]
) -> Iterator[tuple[int, Cells]]:
    """(row number, cells by field) of each data row of `table`, whose first row is row 1.

    The header is the first non-blank row of the top `header_search_rows` that names every
    required column, folded with the row under it when that row names only known columns
    and the header names one (a header merged over two rows; data then starts below both).
    When there is none, the errors of the first non-blank row (or "the file is empty") go
    into `parsed` and no row is handed out. Each data row counts in `parsed.rows_total`;
    the row past `max_rows` is refused and reading stops there.
    """
    rows = iter(table)
    top = list(itertools.islice(rows, columns.header_search_rows + 1))
    lookup = _lookup(columns)
    first_errors: list[RowError] | None = None
    found: dict[str, int] | None = None
    start = 0
    for index, header in enumerate(top[: columns.header_search_rows]):
        if not any(clean(cell) for cell in header):
            continue
        below = top[index + 1] if index + 1 < len(top) else []
        if _names_columns(below, lookup) and any(_field_of(c, lookup) for c in header):
            found, errors = map_headers(fold_header(header, below), columns, row=index + 1)
            if not errors:
                start = index + 2
                break
        found, errors = map_headers(header, columns, row=index + 1)
        if not errors:
            start = index + 1
            break
        found, first_errors = None, first_errors or errors
    if found is None:
        parsed.errors.extend(
            first_errors or [RowError(1, "", "empty_file", "文件为空", "the file is empty")]
        )
        return
    for number, row in enumerate(itertools.chain(top[start:], rows), start=start + 1):
        if columns.skip_rows_blank_in_known_columns:
            blank = all(i >= len(row) or not clean(row[i]) for i in found.values())
        else:
            blank = not any(clean(cell) for cell in row)
        if blank:
            continue
        parsed.rows_total += 1
        if parsed.rows_total > columns.max_rows:
            parsed.errors.append(
                RowError(
                    number,
                    "",
                    "too_many_rows",
                    f"文件超过 {columns.max_rows} 行，请分批导入",
                    f"the file has more than {columns.max_rows} rows; import it in parts",
                )
            )
            return
        yield (
            number,
            {
                name: clean(row[i], collapse_spaces=columns.collapse_spaces)
                if i < len(row)
                else None
                for name, i in found.items()
            },
        )


def parse_rows(
    table: Iterable[Sequence[object]],
    columns: Columns,
    read_row: Callable[[int, Cells], tuple[T | None, list[RowError]]],
    *,
    key: Callable[[T], Hashable] | None = None,
    repeated: Callable[[int, T, int], RowError] | None = None,
) -> Parsed[T]:
    """The records of `table`, and the errors of every row refused (all of them, so an import
    can refuse the whole file and name each bad row).

    `read_row(row number, cells)` gives a record or the row's errors. With `key`, a record
    whose key an earlier accepted row had is refused with `repeated(row, record, first row)`.
    """
    parsed: Parsed[T] = Parsed()
    first_row: dict[Hashable, int] = {}
    for number, cells in cells_by_row(table, columns, parsed):
        record, errors = read_row(number, cells)
        if record is not None and key is not None and key(record) in first_row:
            if repeated is None:
                raise TypeError("parse_rows: `key` needs `repeated` to say what a repeat is")
            errors.append(repeated(number, record, first_row[key(record)]))
        if errors:
            parsed.errors.extend(errors)
        elif record is not None:
            if key is not None:
                first_row[key(record)] = number
            parsed.records.append(record)
    return parsed


async def read_table(data: bytes, *, limits: SheetLimits) -> list[list[Cell]]:
    """Every row of an upload's first sheet (XLSX) or of the CSV, header first, empty rows
    kept as `[]` so that a row's index + 1 is its spreadsheet row number. Read by the kit's
    worker process within `limits`; raises `SheetRefused`."""
    table: list[list[Cell]] = []
    async for batch in read_sheet(data, limits=limits):
        for number, cells in batch:
            table.extend([] for _ in range(number - 1 - len(table)))
            table.append(cells)
    return table


# --- normalisers -------------------------------------------------------------------------------

_PERSON_NUMBER = re.compile(r"^[0-9A-Za-z][0-9A-Za-z\-_]{0,31}$")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
# One plain address: none of what a mail header reads as a second address, a display name, a
# comment or a quoted part (`t1001,boss@evil.example` is two mailboxes in a To header). The
# local part may be in any script (SMTPUTF8); whitespace and `@` appear once, nowhere else.
_NOT_IN_ADDRESS = r"[^@\s,;:<>()\[\]\\\"]"
_EMAIL = re.compile(rf"{_NOT_IN_ADDRESS}{{1,64}}@{_NOT_IN_ADDRESS}+\.{_NOT_IN_ADDRESS}{{2,}}")


def person_number(text: str | None) -> str | None:
    """A 学号 or 工号 as a college issues it (letters, digits, `-` and `_`, at most 32,
    starting with a letter or digit), or None when `text` is not one."""
    return text if text and _PERSON_NUMBER.match(text) else None


def mobile_number(text: str | None) -> str | None:
    """A mainland mobile number as its 11 digits (spaces, dashes, brackets and a +86 or
    0086 prefix dropped), or None when `text` is not one."""
    if not text:
        return None
    digits = re.sub(r"[\s\-()]", "", text).removeprefix("+86").removeprefix("0086")
    return digits if _MOBILE.match(digits) else None


def is_email(text: str) -> bool:
    """Whether `text` has the shape of one plain email address (one @, a dotted domain, no
    separator a mail header would split it at)."""
    return _EMAIL.fullmatch(text) is not None


def lookup_name(names: Mapping[str, V], text: str | None) -> V | None:
    """The vocabulary entry `text` names, as written or in lower case ("SMS" → "sms")."""
    if not text:
        return None
    found = names.get(text)
    return found if found is not None else names.get(text.lower())


__all__ = [
    "Cells",
    "Columns",
    "Parsed",
    "RowError",
    "bare_header",
    "cells_by_row",
    "clean",
    "fold_header",
    "header_key",
    "is_email",
    "lookup_name",
    "map_headers",
    "mobile_number",
    "parse_rows",
    "person_number",
    "read_table",
]
