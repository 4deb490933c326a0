"""Reading roster rows as colleges export them: Chinese or English headers, loose values.

Input is a table (the header row first, then data rows, as lists of cells) from a CSV or XLSX
file; output is normalised `Student` / `StaffMember` records and, for every row that cannot be
used, a `RowError` naming the row number (the header is row 1, as a spreadsheet shows it) and
the column, in zh-CN and English. Unknown columns are ignored, so an export carrying phone
numbers or ID-card numbers leaves them behind.

Finding the header (under a title line, noted, or merged over two rows), cleaning cells,
reading 学号 Excel turned into numbers and collecting errors by row is the kit's
(`shouwang_servicekit.rows`, as notify's contacts import and intake's census use it); this
module keeps the roster's columns and rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from shouwang_contracts.scopes import ROLE_GRANTS, ScopeKind
from shouwang_contracts.vocabulary import Role
from shouwang_servicekit.excel_numbers import excel_number, refuse_lost_leading_zeros
from shouwang_servicekit.rows import (
    Cells,
    Columns,
    Parsed,
    RowError,
    cells_by_row,
    lookup_name,
    parse_rows,
    person_number,
)

from .roster import (
    StaffMember,
    Student,
    normalise_building,
    normalise_floor,
    normalise_room,
    parse_scope_value,
)
from .roster_words import (
    ROLE_NAMES,
    SCOPE_KIND_LABELS,
    SCOPE_KIND_NAMES,
    STAFF_HEADERS,
    STAFF_REQUIRED,
    STUDENT_HEADERS,
    STUDENT_REQUIRED,
)

MAX_ROWS = 100_000
HEADER_SEARCH_ROWS = 5

# A row blank in every roster column is passed over whatever else it holds: exports number
# their rows (序号) or carry formulas further down than the data goes.
STUDENT_COLUMNS = Columns(
    STUDENT_HEADERS,
    STUDENT_REQUIRED,
    max_rows=MAX_ROWS,
    header_search_rows=HEADER_SEARCH_ROWS,
    skip_rows_blank_in_known_columns=True,
)
STAFF_COLUMNS = Columns(
    STAFF_HEADERS,
    STAFF_REQUIRED,
    max_rows=MAX_ROWS,
    header_search_rows=HEADER_SEARCH_ROWS,
    skip_rows_blank_in_known_columns=True,
)


def parse_students(table: Iterable[Sequence[object]]) -> Parsed[Student]:
    """Students from a table whose first row is the header (or one below title lines)."""
    numbers: list[tuple[int, str]] = []

    def read(number: int, cells: Cells) -> tuple[Student | None, list[RowError]]:
        student, errors = _student(number, cells)
        if student is not None:
            numbers.append((number, student.student_no))
        return student, errors

    parsed = parse_rows(
        table,
        STUDENT_COLUMNS,
        read,
        key=lambda student: student.student_no,
        repeated=lambda number, student, first: RowError(
            number,
            "student_no",
            "duplicate_student",
            f"学号 {student.student_no} 与第 {first} 行重复",
            f"student number {student.student_no} repeats row {first}",
        ),
    )
    return refuse_lost_leading_zeros(
        parsed, numbers, "student_no", "学号", key=lambda s: s.student_no
    )


def _number(
    row: int, cells: Cells, field: str, label: tuple[str, str], errors: list[RowError]
) -> str | None:
    """The row's 学号/工号 as a college issues it (a float's `.0` undone), or None with the
    reason in `errors` (missing, scientific notation, malformed)."""
    zh, en = label
    text = cells.get(field)
    if not text:
        errors.append(RowError(row, field, "required", f"缺少{zh}", f"{en} is missing"))
        return None
    read = excel_number(row, field, zh, text)
    if isinstance(read, RowError):
        errors.append(read)
        return None
    if not person_number(read):
        errors.append(
            RowError(
                row,
                field,
                "invalid",
                f"{zh}格式不正确：{text}（只能包含字母、数字、- 和 _）",
                f"{en} is malformed: {text} (letters, digits, - and _ only)",
            )
        )
        return None
    return read


def _student(number: int, cells: Cells) -> tuple[Student | None, list[RowError]]:
    errors: list[RowError] = []
    name = cells.get("name")
    student_no = _number(number, cells, "student_no", ("学号", "student number"), errors)
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


def parse_staff(table: Iterable[Sequence[object]]) -> Parsed[StaffMember]:
    """Staff assignments from a table whose first row is the header; one row per assignment."""
    result: Parsed[StaffMember] = Parsed()
    names: dict[str, tuple[str, int]] = {}
    seen: set[tuple[str, str, str, str]] = set()
    numbers: list[tuple[int, str]] = []
    for number, cells in cells_by_row(table, STAFF_COLUMNS, result):
        member, errors = _staff_member(number, cells)
        if member is not None:
            numbers.append((number, member.staff_no))
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
    return refuse_lost_leading_zeros(
        result, numbers, "staff_no", "工号/学号", key=lambda m: m.staff_no
    )


def _staff_member(number: int, cells: Cells) -> tuple[StaffMember | None, list[RowError]]:
    errors: list[RowError] = []
    name = cells.get("name")
    staff_no = _number(number, cells, "staff_no", ("工号/学号", "staff or student number"), errors)
    if not name:
        errors.append(RowError(number, "name", "required", "缺少姓名", "name is missing"))
    raw_role = cells.get("role") or ""
    role = lookup_name(ROLE_NAMES, raw_role)
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
    kind = lookup_name(SCOPE_KIND_NAMES, raw_kind)
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
        if role is not None and (refused := _scope_beyond_role(number, role, kind)):
            errors.append(refused)
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


def _scope_beyond_role(number: int, role: str, kind: str) -> RowError | None:
    """A scope type the row's role may not hold (`ROLE_GRANTS`, as sign-in and every token
    are held to): an assignment is a grant in that role, and a dorm-room leader given a
    college would be shown, and alerted about, every student of it. A role given no grant
    at all (an auditor) is still listed on its campus: a `campus` row, which opens nothing
    such a role reads."""
    allowed = ROLE_GRANTS[Role(role)] or frozenset({ScopeKind.CAMPUS})
    if kind in allowed:
        return None
    named = Role(role)
    kinds = [k for k in SCOPE_KIND_LABELS if k in allowed]  # narrowest first
    zh_kinds = "、".join(SCOPE_KIND_LABELS[k][0] for k in kinds)
    en_kinds = ", ".join(SCOPE_KIND_LABELS[k][1] for k in kinds)
    return RowError(
        number,
        "scope_kind",
        "scope_not_allowed_for_role",
        f"{named.label('zh-CN')}不能负责{SCOPE_KIND_LABELS[kind][0]}范围"
        f"（{named.label('zh-CN')}可负责的范围类型：{zh_kinds}）",
        f"a {named.label('en').lower()} may not hold a {SCOPE_KIND_LABELS[kind][1]} scope"
        f" (scope types for this role: {en_kinds})",
    )
