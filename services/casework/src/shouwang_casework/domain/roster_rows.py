"""Reading roster rows as colleges export them: Chinese or English headers, loose values.

Input is a table (the header row first, then data rows, as lists of cells) from a CSV or XLSX
file; output is normalised `Student` / `StaffMember` records and, for every row that cannot be
used, a `RowError` naming the row number (the header is row 1, as a spreadsheet shows it) and
the column, in zh-CN and English. Unknown columns are ignored, so an export carrying phone
numbers or ID-card numbers leaves them behind.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Generic, TypeVar

from .roster import (
    StaffMember,
    Student,
    clean,
    normalise_building,
    normalise_floor,
    normalise_room,
    parse_scope_value,
)
from .roster_words import (
    ROLE_NAMES,
    SCOPE_KIND_NAMES,
    STAFF_HEADERS,
    STAFF_REQUIRED,
    STUDENT_HEADERS,
    STUDENT_REQUIRED,
)

MAX_ROWS = 100_000
HEADER_SEARCH_ROWS = 5

T = TypeVar("T")

_STUDENT_NO = re.compile(r"^[0-9A-Za-z][0-9A-Za-z\-_]{0,31}$")


@dataclass(frozen=True, slots=True)
class RowError:
    """Why one row (or the header, row 1) cannot be imported."""

    row: int
    field: str
    code: str
    message: str
    message_en: str

    def as_dict(self) -> dict[str, object]:
        """The error as stored in the import record (both languages)."""
        return asdict(self)


@dataclass(slots=True)
class ParsedRoster(Generic[T]):
    """Records read from a table, the rows refused, and how many data rows there were."""

    records: list[T] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    rows_total: int = 0


def _header_key(text: object) -> str:
    value = clean(text) or ""
    return re.sub(r"[\s_\-]", "", value.lower()) if value.isascii() else value.replace(" ", "")


def map_headers(
    header: Sequence[object],
    aliases: dict[str, tuple[str, ...]],
    required: Iterable[str],
    *,
    row: int = 1,
) -> tuple[dict[str, int], list[RowError]]:
    """Column index of each known field, and errors for missing or repeated columns."""
    lookup = {_header_key(alias): name for name, names in aliases.items() for alias in names}
    columns: dict[str, int] = {}
    errors: list[RowError] = []
    for index, cell in enumerate(header):
        name = lookup.get(_header_key(cell))
        if name is None:
            continue
        if name in columns:
            errors.append(
                RowError(
                    row, name, "duplicate_column", f"表头重复：{cell}", f"duplicate column: {cell}"
                )
            )
        columns[name] = index
    for name in required:
        if name not in columns:
            zh = aliases[name][0]
            errors.append(
                RowError(
                    row,
                    name,
                    "missing_column",
                    f"缺少必需的列：{zh}",
                    f"missing required column: {zh} ({name})",
                )
            )
    return columns, errors


def _cells(row: Sequence[object], columns: dict[str, int]) -> dict[str, str | None]:
    return {name: clean(row[i]) if i < len(row) else None for name, i in columns.items()}


def _data_rows(
    table: Iterable[Sequence[object]], start: int
) -> Iterable[tuple[int, Sequence[object]]]:
    """(row number, cells) of non-blank data rows, the first being row `start`."""
    for number, row in enumerate(table, start=start):
        if any(clean(cell) for cell in row):
            yield number, row


def _too_many(number: int) -> RowError:
    return RowError(
        number,
        "",
        "too_many_rows",
        f"文件超过 {MAX_ROWS} 行，请分批导入",
        f"the file has more than {MAX_ROWS} rows; import it in parts",
    )


def _cells_by_row(
    table: Iterable[Sequence[object]],
    aliases: dict[str, tuple[str, ...]],
    required: Iterable[str],
    result: ParsedRoster[Any],
) -> Iterator[tuple[int, dict[str, str | None]]]:
    """(row number, cells by field) of each data row; header problems go into `result`.

    The header is the first of the top HEADER_SEARCH_ROWS rows that names every required
    column, so a title line above it ("2024级学生名单") is passed over.
    """
    rows = iter(table)
    required = tuple(required)
    first_errors: list[RowError] | None = None
    columns: dict[str, int] | None = None
    header_number = 0
    for header_number, header in enumerate(rows, start=1):
        if not any(clean(cell) for cell in header):
            continue
        found, errors = map_headers(header, aliases, required, row=header_number)
        if not errors:
            columns = found
            break
        first_errors = first_errors or errors
        if header_number >= HEADER_SEARCH_ROWS:
            break
    if columns is None:
        result.errors.extend(
            first_errors or [RowError(1, "", "empty_file", "文件为空", "the file is empty")]
        )
        return
    for number, row in _data_rows(rows, start=header_number + 1):
        result.rows_total += 1
        if result.rows_total > MAX_ROWS:
            result.errors.append(_too_many(number))
            return
        yield number, _cells(row, columns)


def parse_students(table: Iterable[Sequence[object]]) -> ParsedRoster[Student]:
    """Students from a table whose first row is the header."""
    result: ParsedRoster[Student] = ParsedRoster()
    first_row_of: dict[str, int] = {}
    for number, cells in _cells_by_row(table, STUDENT_HEADERS, STUDENT_REQUIRED, result):
        student, errors = _student(number, cells)
        if student is not None and student.student_no in first_row_of:
            errors.append(
                RowError(
                    number,
                    "student_no",
                    "duplicate_student",
                    f"学号 {student.student_no} 与第 {first_row_of[student.student_no]} 行重复",
                    f"student number {student.student_no} repeats row "
                    f"{first_row_of[student.student_no]}",
                )
            )
        if errors:
            result.errors.extend(errors)
        elif student is not None:
            first_row_of[student.student_no] = number
            result.records.append(student)
    return result


def _student(number: int, cells: dict[str, str | None]) -> tuple[Student | None, list[RowError]]:
    errors: list[RowError] = []
    student_no, name = cells.get("student_no"), cells.get("name")
    if not student_no:
        errors.append(
            RowError(number, "student_no", "required", "缺少学号", "student number is missing")
        )
    elif not _STUDENT_NO.match(student_no):
        errors.append(
            RowError(
                number,
                "student_no",
                "invalid",
                f"学号格式不正确：{student_no}",
                f"student number is malformed: {student_no}",
            )
        )
    if not name:
        errors.append(RowError(number, "name", "required", "缺少姓名", "name is missing"))
    raw_building = cells.get("building")
    building = normalise_building(raw_building) if raw_building else None
    floor = room = None
    if cells.get("floor"):
        floor = normalise_floor(cells["floor"] or "")
        if floor is None:
            errors.append(
                RowError(
                    number,
                    "floor",
                    "invalid",
                    f"楼层无法识别：{cells['floor']}（应为数字，如 2 或 2层）",
                    f"floor not understood: {cells['floor']} (a number such as 2)",
                )
            )
    if cells.get("room"):
        room = normalise_room(cells["room"] or "", building)
        if room is None:
            errors.append(
                RowError(
                    number,
                    "room",
                    "invalid",
                    f"寝室号无法识别：{cells['room']}（如 202）",
                    f"room not understood: {cells['room']} (such as 202)",
                )
            )
    if (floor or room) and not building:
        errors.append(
            RowError(
                number,
                "building",
                "required",
                "填写了楼层或寝室，但缺少楼栋",
                "a floor or room is given without its building",
            )
        )
    if errors or not student_no or not name:
        return None, errors
    return (
        Student(
            student_no=student_no,
            name=name,
            gender=cells.get("gender"),
            college=cells.get("college"),
            major=cells.get("major"),
            class_name=cells.get("class_name"),
            campus_name=cells.get("campus_name"),
            building=building,
            floor=floor,
            room=room,
        ),
        [],
    )


def parse_staff(table: Iterable[Sequence[object]]) -> ParsedRoster[StaffMember]:
    """Staff assignments from a table whose first row is the header; one row per assignment."""
    result: ParsedRoster[StaffMember] = ParsedRoster()
    names: dict[str, tuple[str, int]] = {}
    seen: set[tuple[str, str, str, str]] = set()
    for number, cells in _cells_by_row(table, STAFF_HEADERS, STAFF_REQUIRED, result):
        member, errors = _staff_member(number, cells)
        if member is not None:
            first = names.setdefault(member.staff_no, (member.name, number))
            if first[0] != member.name:
                errors.append(
                    RowError(
                        number,
                        "name",
                        "conflicting_name",
                        f"工号/学号 {member.staff_no} 的姓名与第 {first[1]} 行不同",
                        f"number {member.staff_no} has another name on row {first[1]}",
                    )
                )
        if errors:
            result.errors.extend(errors)
        elif member is not None:
            key = (member.staff_no, member.role, member.scope_kind, member.scope_value)
            if key not in seen:  # the same assignment twice is harmless; keep it once
                seen.add(key)
                result.records.append(member)
    return result


def _staff_member(
    number: int, cells: dict[str, str | None]
) -> tuple[StaffMember | None, list[RowError]]:
    errors: list[RowError] = []
    staff_no, name = cells.get("staff_no"), cells.get("name")
    if not staff_no:
        errors.append(
            RowError(
                number,
                "staff_no",
                "required",
                "缺少工号/学号",
                "staff or student number is missing",
            )
        )
    elif not _STUDENT_NO.match(staff_no):
        errors.append(
            RowError(
                number,
                "staff_no",
                "invalid",
                f"工号/学号格式不正确：{staff_no}",
                f"staff or student number is malformed: {staff_no}",
            )
        )
    if not name:
        errors.append(RowError(number, "name", "required", "缺少姓名", "name is missing"))
    raw_role = cells.get("role") or ""
    role = ROLE_NAMES.get(raw_role) or ROLE_NAMES.get(raw_role.lower())
    if role is None:
        errors.append(
            RowError(
                number,
                "role",
                "unknown_role",
                f"角色无法识别：{raw_role or '（空）'}（如 公寓辅导员、寝室长）",
                f"role not recognised: {raw_role or '(empty)'} (e.g. residence_counselor)",
            )
        )
    raw_kind = cells.get("scope_kind") or ""
    kind = SCOPE_KIND_NAMES.get(raw_kind) or SCOPE_KIND_NAMES.get(raw_kind.lower())
    value: str | None = None
    if kind is None:
        errors.append(
            RowError(
                number,
                "scope_kind",
                "unknown_scope_kind",
                f"范围类型无法识别：{raw_kind or '（空）'}（寝室、楼层、楼栋、班级、学院或校区）",
                f"scope type not recognised: {raw_kind or '(empty)'} "
                "(room, floor, building, class, college or campus)",
            )
        )
    else:
        value = parse_scope_value(kind, cells.get("scope_value"))
        if value is None:
            errors.append(_bad_scope_value(number, kind, cells.get("scope_value")))
    if errors or not staff_no or not name or not role or not kind or value is None:
        return None, errors
    return StaffMember(staff_no, name, role, kind, value), []


_SCOPE_EXAMPLES = {
    "room": ("8号楼202", "8号楼202 (building and room)"),
    "floor": ("7号楼3层", "7号楼3层 (building and floor)"),
    "building": ("8号楼", "8号楼"),
    "class": ("建工2401", "建工2401"),
    "college": ("土木建筑工程学院", "a college name"),
}


def _bad_scope_value(number: int, kind: str, text: str | None) -> RowError:
    zh, en = _SCOPE_EXAMPLES[kind]
    return RowError(
        number,
        "scope_value",
        "invalid_scope",
        f"范围无法识别：{text or '（空）'}（例如 {zh}）",
        f"scope not understood: {text or '(empty)'} (e.g. {en})",
    )
