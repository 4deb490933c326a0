"""Roster files as colleges export them: the samples, GB18030, XLSX, English headers, bad rows."""

from __future__ import annotations

import asyncio
import codecs
import io
from pathlib import Path

import openpyxl
import pytest
from shouwang_casework.adapters.roster import read_table
from shouwang_casework.domain.roster import ASSIGNABLE_ROLES
from shouwang_casework.domain.roster_rows import MAX_ROWS, parse_staff, parse_students
from shouwang_contracts.scopes import ROLE_GRANTS
from shouwang_contracts.vocabulary import Role
from shouwang_servicekit.spreadsheets import SheetRefused

SAMPLES = Path(__file__).resolve().parents[4] / "samples"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def csv_rows(data: bytes) -> list[list[object]]:
    """The upload as the import reads it: through the kit's worker process."""
    return asyncio.run(read_table(data, MAX_ROWS))


xlsx_rows = csv_rows


def test_sample_students_parse_without_errors() -> None:
    parsed = parse_students(csv_rows(sample("roster_students.csv")))

    assert parsed.errors == []
    assert parsed.rows_total == len(parsed.records) == 40
    first = parsed.records[0]
    assert first.student_no == "2024020001"
    assert (first.college, first.class_name, first.building, first.floor, first.room) == (
        "信息工程学院",
        "软件2401",
        "8号楼",
        "2",
        "202",
    )
    assert first.campus_name == "主校区"


def test_sample_staff_scopes_are_normalised_to_scope_values() -> None:
    parsed = parse_staff(csv_rows(sample("roster_staff.csv")))

    assert parsed.errors == []
    got = {(m.staff_no, m.role, m.scope_kind, m.scope_value) for m in parsed.records}
    assert got == {
        ("T1001", "residence_counselor", "building", "7号楼"),
        ("T1002", "residence_counselor", "building", "8号楼"),
        ("T2001", "community_psych_teacher", "campus", ""),
        ("T3001", "counseling_center", "campus", ""),
        ("T4001", "college_leader", "college", "土木建筑工程学院"),
        ("2024020001", "dorm_leader", "room", "8号楼/202"),
        ("2024030002", "floor_leader", "floor", "7号楼/3"),
        ("2024010003", "class_wellbeing_officer", "class", "建工2401"),
    }


@pytest.mark.parametrize("name", ["roster_students.csv", "roster_staff.csv"])
def test_gb18030_and_bom_copies_read_the_same(name: str) -> None:
    text = sample(name).decode("utf-8")
    as_gb = text.encode("gb18030")
    with_bom = codecs.BOM_UTF8 + sample(name)

    assert list(csv_rows(as_gb)) == list(csv_rows(sample(name))) == list(csv_rows(with_bom))


def _xlsx(rows: list[list[object]]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_xlsx_with_numeric_student_numbers_reads_like_the_csv() -> None:
    rows = list(csv_rows(sample("roster_students.csv")))
    typed = [rows[0]] + [[int(r[0]), *r[1:8], int(r[8]), int(r[9])] for r in rows[1:]]
    data = _xlsx(typed)

    from_xlsx = parse_students(xlsx_rows(data))
    from_csv = parse_students(rows)
    assert from_xlsx.errors == []
    assert from_xlsx.records == from_csv.records


def test_english_headers_and_loose_values() -> None:
    table = [
        ["Student No", "Name", "College", "Class", "Building", "Floor", "Room", "Phone"],
        [
            "２０２４０９９９０１",
            " 测试 ",
            "信息工程学院",
            "软件2401",
            "8 号楼",
            "2层",
            "8号楼202室",
            "138",
        ],
    ]
    parsed = parse_students(table)

    assert parsed.errors == []
    (student,) = parsed.records
    assert student.student_no == "2024099901"  # full-width digits
    assert (student.building, student.floor, student.room) == ("8号楼", "2", "202")
    assert not hasattr(student, "phone")


def test_english_staff_headers_and_role_ids() -> None:
    table = [
        ["staff_no", "name", "role", "scope_kind", "scope"],
        ["T9", "x", "residence_counselor", "floor", "8号楼/3"],
        ["T9", "x", "Counseling Center", "campus", ""],
        ["T9", "x", "residence_counselor", "room", "8号楼-202"],
    ]
    parsed = parse_staff(table)

    assert parsed.errors == []
    assert [(m.role, m.scope_kind, m.scope_value) for m in parsed.records] == [
        ("residence_counselor", "floor", "8号楼/3"),
        ("counseling_center", "campus", ""),
        ("residence_counselor", "room", "8号楼/202"),
    ]


def test_bad_student_rows_are_reported_by_row_number() -> None:
    table = [
        ["学号", "姓名", "楼栋", "楼层", "寝室"],
        ["2024000001", "甲", "8号楼", "2", "202"],
        ["", "乙", "8号楼", "2", "203"],  # row 3: no number
        ["2024000003", "丙", "8号楼", "二楼半", "204"],  # row 4: floor unreadable
        ["2024000001", "丁", "8号楼", "2", "205"],  # row 5: repeats row 2
        ["", "", "", "", ""],  # blank rows are skipped, but keep their number
        ["2024000006", "戊", "", "3", ""],  # row 7: floor without building
    ]
    parsed = parse_students(table)

    assert [(e.row, e.field, e.code) for e in parsed.errors] == [
        (3, "student_no", "required"),
        (4, "floor", "invalid"),
        (5, "student_no", "duplicate_student"),
        (7, "building", "required"),
    ]
    assert parsed.errors[0].message == "缺少学号"
    assert parsed.errors[0].message_en == "student number is missing"
    assert parsed.rows_total == 5


def test_bad_staff_rows_are_reported_by_row_number() -> None:
    table = [
        ["工号/学号", "姓名", "角色", "范围类型", "范围"],
        ["T1", "甲", "宿管阿姨", "楼栋", "8号楼"],  # row 2: unknown role
        ["T2", "乙", "公寓辅导员", "片区", "8号楼"],  # row 3: unknown scope type
        ["T3", "丙", "寝室长", "寝室", "八号楼"],  # row 4: room without a number
        ["T4", "丁", "平台管理员", "校区", ""],  # row 5: platform admin is never assigned
    ]
    parsed = parse_staff(table)

    assert [(e.row, e.field, e.code) for e in parsed.errors] == [
        (2, "role", "unknown_role"),
        (3, "scope_kind", "unknown_scope_kind"),
        (4, "scope_value", "invalid_scope"),
        (5, "role", "unknown_role"),
    ]
    assert "8号楼202" in parsed.errors[2].message


_SCOPE_CELLS = {
    "room": ("寝室", "8号楼202"),
    "floor": ("楼层", "7号楼3层"),
    "building": ("楼栋", "8号楼"),
    "class": ("班级", "建工2401"),
    "college": ("学院", "土木建筑工程学院"),
    "campus": ("校区", "主校区"),
}


@pytest.mark.parametrize("role", sorted(ASSIGNABLE_ROLES))
def test_a_staff_row_holds_only_the_scope_types_its_role_may_hold(role: str) -> None:
    """Every assignable role against every scope type: kept exactly where `ROLE_GRANTS` lets
    the role hold that grant (and an auditor, who holds none, listed on its campus)."""
    table: list[list[object]] = [["工号/学号", "姓名", "角色", "范围类型", "范围"]]
    table += [["T1", "甲", role, zh, value] for zh, value in _SCOPE_CELLS.values()]
    parsed = parse_staff(table)

    allowed = {kind.value for kind in ROLE_GRANTS[Role(role)]} or {"campus"}
    assert {m.scope_kind for m in parsed.records} == allowed
    refused = [(e.row, e.field, e.code) for e in parsed.errors]
    assert refused == [
        (row, "scope_kind", "scope_not_allowed_for_role")
        for row, kind in enumerate(_SCOPE_CELLS, start=2)
        if kind not in allowed
    ]
    for error in parsed.errors:
        assert Role(role).label() in error.message
        assert Role(role).label("en").lower() in error.message_en


def test_missing_required_columns_are_reported_on_row_one() -> None:
    parsed = parse_students([["姓名", "学院"], ["甲", "医学院"]])

    assert [(e.row, e.field, e.code) for e in parsed.errors] == [
        (1, "student_no", "missing_column")
    ]
    assert parsed.records == []


def test_unreadable_uploads_are_refused_with_a_reason() -> None:
    with pytest.raises(SheetRefused) as legacy:
        csv_rows(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)
    assert legacy.value.code == "legacy_excel"
    with pytest.raises(SheetRefused) as broken:
        list(xlsx_rows(b"PK\x03\x04 not really a zip"))
    assert broken.value.code == "malformed_xlsx"
    with pytest.raises(SheetRefused):
        csv_rows(b"\x89PNG\r\n\x1a\n\x00\x00\x00")


def test_a_title_line_above_the_header_is_passed_over_and_row_numbers_stay_true() -> None:
    table = [
        ["2024级学生住宿名单", "", "", ""],
        [],
        ["学号", "姓名", "楼栋", "楼层"],
        ["2024000001", "甲", "8号楼", "2"],
        ["2024000002", "乙", "8号楼", "二楼"],
    ]
    parsed = parse_students(table)

    assert [s.student_no for s in parsed.records] == ["2024000001"]
    assert [(e.row, e.field) for e in parsed.errors] == [(5, "floor")]


def test_an_empty_file_is_one_error() -> None:
    assert [e.code for e in parse_staff([]).errors] == ["empty_file"]
    assert [e.code for e in parse_staff([[], ["", ""]]).errors] == ["empty_file"]
