"""The contacts files a college really sends: the samples as Excel and export templates leave
them (GBK, BOM, XLSX, noted headers, a title line and a header merged over two rows, mobile
numbers and 学号 Excel turned into numbers). Each variant is made here from the shared samples
and reads exactly like the sample, or is refused by row and column in zh-CN saying what to
do, without quoting the cell (no contact refusal carries what the file holds)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from shouwang_devstack.college_exports import Table, as_csv, as_xlsx, only_error, sample
from shouwang_notify.adapters.contact_files import table_rows
from shouwang_notify.domain.contact_rows import parse_family_contacts, parse_staff_contacts
from shouwang_servicekit.rows import Parsed

AS_TEXT = "设为“文本”格式后重新导出"


def read(data: bytes) -> Table:
    """The upload as the import reads it: through the kit's worker process."""
    return asyncio.run(table_rows(data))


def numeric(table: Table) -> Table:
    """The table as Excel types it: every all-digit cell (mobiles, 学号) a number."""
    return [table[0]] + [[int(c) if c.isdigit() else c for c in row] for row in table[1:]]


def dot_zero(table: Table) -> Table:
    """Mobiles and 学号 written out as floats: a CSV saved from numeric columns."""
    return [table[0]] + [[f"{c}.0" if c.isdigit() else c for c in row] for row in table[1:]]


NOTES = {
    "工号/学号": "*工号/学号（必填）",
    "学号": "＊学号(必填)",
    "手机": "手机号（必填）",
    "邮箱": "邮箱 [选填]",
    "首选渠道": "首选渠道【企业微信/钉钉/短信/邮件】",
    "联系人姓名": "*联系人姓名",
}


def noted(table: Table) -> Table:
    return [[NOTES.get(c, c) for c in table[0]], *table[1:]]


def titled_two_row_header(table: Table) -> Table:
    """A title line, then the contact columns under a group label merged across them, the
    others merged down over both header rows."""
    header = table[0]
    mobile = header.index("手机")
    upper = [*header[:mobile], "联系方式", *[None] * (len(header) - mobile - 1)]
    lower = [None] * mobile + header[mobile:]
    return [["2025学年联系人（请勿外传）"], upper, lower, *numeric(table)[1:]]


# Each variant: how the file is made, and how many rows it adds above the sample's.
VARIANTS: dict[str, tuple[Callable[[Table], bytes], int]] = {
    "gbk_csv": (lambda t: as_csv(t, "gbk"), 0),
    "utf8_bom_csv": (lambda t: as_csv(t, "utf-8-sig"), 0),
    "noted_header_gb18030": (lambda t: as_csv(noted(t), "gb18030"), 0),
    "noted_header_xlsx_numbers": (lambda t: as_xlsx(noted(numeric(t))), 0),
    "dot_zero_numbers_gbk": (lambda t: as_csv(dot_zero(t), "gbk"), 0),
    "xlsx_title_and_two_row_header": (lambda t: as_xlsx(titled_two_row_header(t)), 2),
}
PARSERS: dict[str, Callable[[Table], Parsed[Any]]] = {
    "contacts_staff.csv": parse_staff_contacts,
    "contacts_family.csv": parse_family_contacts,
}


@pytest.mark.parametrize("name", sorted(PARSERS))
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_contacts_variants_read_like_the_sample(name: str, variant: str) -> None:
    parse = PARSERS[name]
    expected = parse(sample(name))
    assert expected.errors == []
    assert len(expected.records) == len(sample(name)) - 1
    make, added = VARIANTS[variant]

    parsed = parse(read(make(sample(name))))

    assert parsed.errors == []
    assert [replace(r, row=r.row - added) for r in parsed.records] == expected.records


def test_a_mobile_number_in_scientific_notation_is_refused_by_row_saying_what_to_do() -> None:
    table = sample("contacts_staff.csv")
    table[2][2] = "1.38E+10"  # row 3: Excel showed the number so and saved what it showed

    parsed = parse_staff_contacts(read(as_csv(table, "gbk")))

    row, field, code, message = only_error(parsed)
    assert (row, field, code) == (3, "mobile", "scientific_notation")
    assert message.startswith("手机号被 Excel 写成了科学计数法")
    assert AS_TEXT in message
    assert "scientific notation" in parsed.errors[0].message_en


@pytest.mark.parametrize(
    ("name", "column", "field", "label"),
    [
        ("contacts_family.csv", 0, "student_no", "学号"),
        ("contacts_staff.csv", 0, "number", "工号/学号"),
    ],
)
def test_a_student_number_in_scientific_notation_names_its_column(
    name: str, column: int, field: str, label: str
) -> None:
    table = sample(name)
    student_row = next(i for i, row in enumerate(table) if row[column].startswith("2024"))
    table[student_row][column] = "2.02402E+09"

    row, found_field, code, message = only_error(PARSERS[name](read(as_csv(table, "gbk"))))

    assert (row, found_field, code) == (student_row + 1, field, "scientific_notation")
    assert message.startswith(f"{label}被 Excel 写成了科学计数法")
    assert AS_TEXT in message


def test_student_numbers_that_lost_their_leading_zeros_are_refused_by_row() -> None:
    """A college whose numbers begin with 0: the file proves it; both contacts of the
    student whose number Excel read as a number are refused, the others would import."""
    table = sample("contacts_family.csv")
    for row in table[1:]:
        row[0] = "0" + row[0][1:]
    table[1][0] = table[2][0] = str(int(table[1][0]))  # rows 2 and 3: one student's parents

    parsed = parse_family_contacts(read(as_xlsx(table)))

    assert [(e.row, e.field, e.code) for e in parsed.errors] == [
        (2, "student_no", "leading_zeros_lost"),
        (3, "student_no", "leading_zeros_lost"),
    ]
    assert parsed.errors[0].message.startswith("学号比本文件中以 0 开头的学号")
    assert "去掉了开头的 0" in parsed.errors[0].message
    assert len(parsed.records) == len(table) - 3


def test_an_excel_number_refusal_never_echoes_the_cell() -> None:
    """The threat: the kit's Excel-number refusals quote the cell (casework's roster does),
    so a contacts file answered with the mobile and student numbers it held, into logs and
    tools that keep refusals, where every contact refusal names the column and code only."""
    staff = sample("contacts_staff.csv")
    staff[1][2] = "1.38E+10"
    family = sample("contacts_family.csv")
    for row in family[1:]:
        row[0] = "0" + row[0][1:]
    family[4][0] = str(int(family[4][0]))

    errors = [
        *parse_staff_contacts(staff).errors,
        *parse_family_contacts(family).errors,
    ]

    assert {e.code for e in errors} == {"scientific_notation", "leading_zeros_lost"}
    for error in errors:
        for cell in ("1.38E+10", family[4][0], family[1][0]):
            assert cell not in error.message
            assert cell not in error.message_en
