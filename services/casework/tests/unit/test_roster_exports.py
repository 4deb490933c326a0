"""The rosters a college really sends: the samples as Excel and the academic-affairs system
leave them (GBK, BOM, XLSX, noted headers, two-row headers, 学号 turned into numbers, rows
numbered past the data). Each variant is made here from the shared samples and either reads
exactly like the sample or is refused by row and column, in zh-CN, saying what to do."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from shouwang_casework.adapters.roster import read_table
from shouwang_casework.domain.roster_rows import MAX_ROWS, parse_staff, parse_students
from shouwang_devstack.college_exports import Table, as_csv, as_xlsx, only_error, sample


def read(data: bytes) -> Table:
    """The upload as the import reads it: through the kit's worker process."""
    return asyncio.run(read_table(data, MAX_ROWS))


def numeric(table: Table, *columns: int) -> Table:
    """The table as Excel types it: the given columns' digit cells as numbers."""
    return [table[0]] + [
        [int(c) if i in columns and str(c).isdigit() else c for i, c in enumerate(row)]
        for row in table[1:]
    ]


def noted_header(table: Table) -> Table:
    """Header texts as templates write them: a star on required columns, a note in
    full-width or ASCII brackets, a space inside."""
    notes = {"学号": "*学号（必填）", "姓名": "姓 名", "楼层": "楼层(层)", "寝室": "寝室【号】"}
    notes |= {"工号/学号": "＊工号/学号", "范围": "范围（楼栋/班级）"}
    return [[notes.get(str(c), c) for c in table[0]], *table[1:]]


def numbered_rows(table: Table) -> Table:
    """A 序号 column, numbered on past the data, and blank rows at the end."""
    width = len(table[0])
    rows = [["序号", *table[0]]] + [[str(i), *row] for i, row in enumerate(table[1:], 1)]
    rows += [[str(i), *[""] * width] for i in range(len(table), len(table) + 3)]
    return [*rows, [""] * (width + 1), [" "] * (width + 1)]


def float_numbers(table: Table) -> Table:
    """学号 written out as floats: what a CSV saved from a numeric column holds."""
    return [table[0]] + [[f"{row[0]}.0", *row[1:]] for row in table[1:]]


STUDENT_VARIANTS: dict[str, Callable[[Table], bytes]] = {
    "gbk_csv": lambda t: as_csv(t, "gbk"),
    "gb18030_csv": lambda t: as_csv(t, "gb18030"),
    "utf8_bom_csv": lambda t: as_csv(t, "utf-8-sig"),
    "xlsx_numbers": lambda t: as_xlsx(numeric(t, 0, 8, 9)),
    "csv_with_dot_zero": lambda t: as_csv(float_numbers(t), "gbk"),
    "noted_header_gbk": lambda t: as_csv(noted_header(t), "gbk"),
    "noted_header_xlsx": lambda t: as_xlsx(noted_header(numeric(t, 0))),
    "numbered_and_blank_rows": lambda t: as_csv(numbered_rows(t), "utf-8-sig"),
    "numbered_rows_xlsx": lambda t: as_xlsx(numbered_rows(t)),
}


@pytest.mark.parametrize("variant", sorted(STUDENT_VARIANTS))
def test_student_roster_variants_read_like_the_sample(variant: str) -> None:
    table = sample("roster_students.csv")
    expected = parse_students(table)
    assert expected.errors == []
    assert len(expected.records) == len(table) - 1

    parsed = parse_students(read(STUDENT_VARIANTS[variant](table)))

    assert parsed.errors == []
    assert parsed.records == expected.records  # floors and rooms included: none left behind


STAFF_VARIANTS: dict[str, Callable[[Table], bytes]] = {
    "gbk_csv": lambda t: as_csv(t, "gbk"),
    "utf8_bom_csv": lambda t: as_csv(t, "utf-8-sig"),
    "noted_header_gbk": lambda t: as_csv(noted_header(t), "gbk"),
    "numbered_rows_xlsx": lambda t: as_xlsx(numbered_rows(t)),
}


@pytest.mark.parametrize("variant", sorted(STAFF_VARIANTS))
def test_staff_roster_variants_read_like_the_sample(variant: str) -> None:
    table = sample("roster_staff.csv")

    parsed = parse_staff(read(STAFF_VARIANTS[variant](table)))

    assert parsed.errors == []
    assert parsed.records == parse_staff(table).records


def test_a_two_row_merged_header_reads_like_the_sample_with_row_numbers_true() -> None:
    """学号 and 姓名 merged down over two rows, 住宿信息 merged across 楼栋/楼层/寝室."""
    table = numeric(sample("roster_students.csv"), 0, 8, 9)
    header = table[0]
    upper = [*header[:7], "住宿信息", None, None]
    lower = [None] * 7 + header[7:]
    data = as_xlsx([upper, lower, *table[1:]], merged=("A1:A2", "B1:B2", "C1:C2", "H1:J1"))
    broken = [row.copy() for row in table[1:]]
    broken[2][9] = "四百零四"  # the sample's row 4, row 5 of the two-row-header file

    parsed = parse_students(read(data))
    refused = parse_students(read(as_xlsx([upper, lower, *broken], merged=("H1:J1",))))

    assert parsed.errors == []
    assert parsed.records == parse_students(sample("roster_students.csv")).records
    assert [(e.row, e.field) for e in refused.errors] == [(5, "room")]


def test_student_numbers_in_scientific_notation_are_refused_by_row_saying_what_to_do() -> None:
    table = sample("roster_students.csv")
    table[3][0] = "2.02401E+09"  # row 4: Excel showed the number so and saved what it showed

    parsed = parse_students(read(as_csv(table, "gbk")))

    row, field, code, message = only_error(parsed)
    assert (row, field, code) == (4, "student_no", "scientific_notation")
    assert "2.02401E+09" in message
    assert "科学计数法" in message
    assert "设为“文本”格式后重新导出" in message
    assert "scientific notation" in parsed.errors[0].message_en


def test_student_numbers_that_lost_their_leading_zeros_are_refused_by_row() -> None:
    """A college whose numbers begin with 0: the file proves it; the rows Excel read as
    numbers are refused, the others would import."""
    table = sample("roster_students.csv")
    for row in table[1:]:
        row[0] = "0" + row[0][1:]
    table[2][0] = str(int(table[2][0]))  # row 3
    table[6][0] = str(int(table[6][0]))  # row 7

    parsed = parse_students(read(as_xlsx(table)))

    assert [(e.row, e.field, e.code) for e in parsed.errors] == [
        (3, "student_no", "leading_zeros_lost"),
        (7, "student_no", "leading_zeros_lost"),
    ]
    assert f"学号 {table[2][0]} 比本文件中以 0 开头的学号" in parsed.errors[0].message
    assert "去掉了开头的 0" in parsed.errors[0].message
    assert len(parsed.records) == len(table) - 3


def test_shorter_numbers_are_taken_as_written_when_no_number_begins_with_zero() -> None:
    """Staff 工号 (T1001) beside 学号 (2024020001), or numbering schemes of two lengths:
    nothing proves a lost zero, so nothing is refused."""
    table = sample("roster_staff.csv")
    table.append(["1001", "测试辅导员丙", "公寓辅导员", "楼栋", "9号楼"])

    parsed = parse_staff(read(as_csv(table)))

    assert parsed.errors == []
    assert "1001" in {m.staff_no for m in parsed.records}


def test_staff_numbers_in_scientific_notation_name_the_staff_column() -> None:
    table = sample("roster_staff.csv")
    student_rows = [i for i, row in enumerate(table) if row[0].isdigit()]
    table[student_rows[0]][0] = "2.02402E+09"

    row, field, code, message = only_error(parse_staff(read(as_csv(table, "gb18030"))))

    assert (row, field, code) == (student_rows[0] + 1, "staff_no", "scientific_notation")
    assert message.startswith("工号/学号被 Excel 写成了科学计数法")
