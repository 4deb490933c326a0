"""The census files a college really sends: the sample as Excel and survey systems leave it
(GBK, BOM, XLSX, noted headers, a title line, a header merged over two rows, 学号 turned into
numbers). Each variant is made here from the shared sample and reads like it, row for row, or
is refused by row and column in zh-CN saying what to do."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from shouwang_devstack.college_exports import Table, as_csv, as_xlsx
from shouwang_devstack.college_exports import sample as sample_file
from shouwang_intake.adapters.census_files import sheet_rows
from shouwang_intake.domain.census import Cell, CensusRow, HeaderError, RowError, parse_row
from shouwang_intake.domain.census_header import SEARCH_ROWS, find_header
from shouwang_servicekit.spreadsheets import SheetLimits

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 29, tzinfo=UTC)


def sample() -> Table:
    return sample_file("census_phq9.csv")


def census(data: bytes) -> tuple[list[CensusRow], list[RowError]]:
    """The file read as the upload reads it: the kit's worker, the header search, each row."""

    async def rows() -> list[tuple[int, list[Cell]]]:
        return [row async for row in sheet_rows(data, SheetLimits())]

    read = asyncio.run(rows())
    columns, taken = find_header(read[: SEARCH_ROWS + 1])
    good: list[CensusRow] = []
    errors: list[RowError] = []
    for number, cells in read[taken:]:
        result = parse_row(number, cells, columns, zone=ZONE, now=NOW)
        if isinstance(result, list):
            errors.extend(result)
        else:
            good.append(result)
            errors.extend(result.defects)
    return good, errors


def shifted(found: tuple[list[CensusRow], list[RowError]], by: int) -> list[tuple[Any, ...]]:
    """What a census says, row numbers moved back by the rows a variant added above."""
    good, errors = found
    return [(r.row_number - by, r.student_no, r.items, r.unanswered) for r in good] + [
        (e.row_number - by, e.field, e.code) for e in errors
    ]


def noted(table: Table) -> Table:
    """Header texts as templates write them: stars, notes in brackets, spaces inside."""
    notes = {"学号": "*学号（必填）", "测评时间": "测评 时间", "第1题": "第1题（0-3分）"}
    return [[notes.get(c, c) for c in table[0]], *table[1:]]


def titled(table: Table) -> Table:
    return [["2026级新生心理普查（PHQ-9）"], [], *table]


def dot_zero(table: Table) -> Table:
    return [table[0]] + [[f"{r[0]}.0" if r[0] else r[0], *r[1:]] for r in table[1:]]


def numeric(table: Table) -> Table:
    return [table[0]] + [[int(c) if c.isdigit() else c for c in r] for r in table[1:]]


def two_row_header(table: Table) -> tuple[Table, tuple[str, ...]]:
    """学号 … 量表 merged down over two rows, 各题得分 merged across 第1题 … 第9题."""
    header = table[0]
    upper = [*header[:4], "PHQ-9 各题得分", *[None] * 8]
    lower = [None] * 4 + header[4:]
    return [upper, lower, *table[1:]], ("A1:A2", "B1:B2", "C1:C2", "D1:D2", "E1:M1")


VARIANTS: dict[str, tuple[Callable[[Table], bytes], int]] = {
    "gbk_csv": (lambda t: as_csv(t, "gbk"), 0),
    "utf8_bom_csv": (lambda t: as_csv(t, "utf-8-sig"), 0),
    "noted_header_gb18030": (lambda t: as_csv(noted(t), "gb18030"), 0),
    "title_line_gbk": (lambda t: as_csv(titled(t), "gbk"), 2),
    "dot_zero_numbers": (lambda t: as_csv(dot_zero(t), "gbk"), 0),
    "xlsx_numbers_noted": (lambda t: as_xlsx(noted(numeric(t))), 0),
    "xlsx_two_row_header": (lambda t: as_xlsx(*two_row_header(numeric(t))), 1),
    "xlsx_title_and_two_rows": (
        lambda t: as_xlsx([["2026级新生心理普查"], *two_row_header(numeric(t))[0]]),
        2,
    ),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_census_variants_read_like_the_sample(variant: str) -> None:
    expected = shifted(census(as_csv(sample())), 0)
    make, added = VARIANTS[variant]

    found = census(make(sample()))

    assert len(found[0]) == 43  # the sample's rows but the one without a student number
    assert shifted(found, added) == expected


def test_student_numbers_in_scientific_notation_are_rejected_by_row_saying_what_to_do() -> None:
    table = sample()
    table[5][0] = "2.02403E+09"  # row 6

    good, errors = census(as_csv(table, "gbk"))

    refused = [e for e in errors if e.row_number == 6]
    assert [(e.field, e.code, e.graded) for e in refused] == [
        ("student_no", "scientific_notation", False)
    ]
    assert "2.02403E+09" not in refused[0].message  # a number is never quoted back
    assert "设为“文本”格式后重新导出" in refused[0].message
    assert 6 not in {row.row_number for row in good}


def test_a_header_nowhere_in_the_top_rows_names_what_is_missing_and_where_it_must_be() -> None:
    table = [["普查说明"], ["请如实作答"], ["a"], ["b"], ["c"], ["d"], *sample()]

    async def rows() -> list[tuple[int, list[Cell]]]:
        return [row async for row in sheet_rows(as_csv(table), SheetLimits())]

    with pytest.raises(HeaderError) as refused:
        find_header(asyncio.run(rows())[: SEARCH_ROWS + 1])

    assert refused.value.message.startswith("表头缺少必需的列：学号、测评时间")
    assert "表头须在文件前 5 行内" in refused.value.message
    assert "within the first 5 rows" in refused.value.message_en
