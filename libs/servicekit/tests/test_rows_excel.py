"""What Excel and export templates do to a table, read the same way for every import: noted
headers, a header merged over two rows (under a title line or not), number columns Excel
wrote as floats or in scientific notation, and numbers that lost their leading zeros."""

from __future__ import annotations

import pytest
from shouwang_servicekit.excel_numbers import excel_number, refuse_lost_leading_zeros
from shouwang_servicekit.rows import (
    Cells,
    Columns,
    Parsed,
    RowError,
    bare_header,
    cells_by_row,
    fold_header,
)

PEOPLE = Columns(
    {
        "number": ("学号", "number"),
        "name": ("姓名", "name"),
        "building": ("楼栋",),
        "floor": ("楼层",),
        "mobile": ("手机号", "mobile"),
    },
    ("number", "name"),
)


def read(table: list[list[object]]) -> tuple[list[tuple[int, Cells]], Parsed[None]]:
    parsed: Parsed[None] = Parsed()
    return list(cells_by_row(table, PEOPLE, parsed)), parsed


@pytest.mark.parametrize(
    ("text", "bare"),
    [
        ("*学号（必填）", "学号"),
        ("＊工号/学号", "工号/学号"),
        ("楼层(层)", "楼层"),
        ("寝室【号】", "寝室"),
        ("手机号 [11位]*", "手机号"),
        (None, ""),
    ],
)
def test_a_header_loses_its_note_and_star(text: str | None, bare: str) -> None:
    assert bare_header(text) == bare


def test_noted_headers_name_their_columns_and_optional_ones_are_not_left_behind() -> None:
    rows, parsed = read(
        [
            ["*学号（必填）", "姓 名", "楼层(层)", "手机号（必填）"],
            ["2024001", "王芳", "3", "13800000001"],
        ]
    )

    assert parsed.errors == []
    assert rows == [
        (2, {"number": "2024001", "name": "王芳", "floor": "3", "mobile": "13800000001"})
    ]


def test_a_header_merged_over_two_rows_under_a_title_line_folds_and_rows_keep_their_numbers() -> (
    None
):
    table: list[list[object]] = [
        ["2024级学生名单"],
        ["学号", "姓名", "住宿信息", None],
        [None, None, "楼栋", "楼层(层)"],
        ["2024001", "王芳", "8号楼", "3"],
        [],
        ["2024002", "李雷", "9号楼", "2"],
    ]

    rows, parsed = read(table)

    assert parsed.errors == []
    assert rows == [
        (4, {"number": "2024001", "name": "王芳", "building": "8号楼", "floor": "3"}),
        (6, {"number": "2024002", "name": "李雷", "building": "9号楼", "floor": "2"}),
    ]
    assert fold_header(table[1], table[2]) == ["学号", "姓名", "楼栋", "楼层(层)"]


def test_a_data_row_under_the_header_is_never_folded_into_it() -> None:
    """Only a row whose every cell names a column is a second header row."""
    rows, parsed = read([["学号", "姓名", "楼栋"], ["2024001", "姓名", ""], ["2024002", "李雷"]])

    assert parsed.errors == []
    assert [number for number, _ in rows] == [2, 3]


def test_a_title_line_right_above_the_header_is_passed_over() -> None:
    rows, parsed = read([["2024级学生名单"], ["学号", "姓名"], ["2024001", "王芳"]])

    assert parsed.errors == []
    assert rows == [(3, {"number": "2024001", "name": "王芳"})]


def test_a_float_loses_its_point_and_scientific_notation_is_refused_saying_what_to_do() -> None:
    assert excel_number(2, "mobile", "手机号", "13800000001.0") == "13800000001"
    assert excel_number(2, "number", "学号", "T1001") == "T1001"
    assert excel_number(2, "number", "学号", "2024020001") == "2024020001"

    refused = excel_number(7, "mobile", "手机号", "1.38E+10")

    assert isinstance(refused, RowError)
    assert (refused.row, refused.field, refused.code) == (7, "mobile", "scientific_notation")
    assert refused.message.startswith("手机号被 Excel 写成了科学计数法：1.38E+10")
    assert "设为“文本”格式后重新导出" in refused.message
    assert "scientific notation" in refused.message_en


def test_numbers_shorter_than_the_files_zero_led_ones_are_refused_by_row() -> None:
    parsed: Parsed[str] = Parsed(records=["0241001", "241002", "0241003", "T1001"])
    numbers = [(2, "0241001"), (3, "241002"), (4, "0241003"), (5, "T1001")]

    refuse_lost_leading_zeros(parsed, numbers, "number", "学号", key=lambda n: n)

    assert parsed.records == ["0241001", "0241003", "T1001"]
    assert [(e.row, e.field, e.code) for e in parsed.errors] == [
        (3, "number", "leading_zeros_lost")
    ]
    assert parsed.errors[0].message.startswith("学号 241002 比本文件中以 0 开头的学号")


def test_without_a_zero_led_number_shorter_numbers_stand() -> None:
    parsed: Parsed[str] = Parsed(records=["2024020001", "1001"])

    refuse_lost_leading_zeros(
        parsed, [(2, "2024020001"), (3, "1001")], "number", "学号", key=lambda n: n
    )

    assert parsed.records == ["2024020001", "1001"]
    assert parsed.errors == []
