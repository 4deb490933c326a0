"""Reading imported tables' rows: headers under title lines and by alias, cells by field with
true row numbers, errors by row, the row cap, and the normalisers every import uses."""

from __future__ import annotations

import asyncio
import codecs
import io
from pathlib import Path

import openpyxl
import pytest
from shouwang_servicekit.rows import (
    Columns,
    Parsed,
    RowError,
    cells_by_row,
    clean,
    header_key,
    is_email,
    lookup_name,
    mobile_number,
    parse_rows,
    person_number,
    read_table,
)
from shouwang_servicekit.spreadsheets import SheetLimits, SheetRefused

SAMPLES = Path(__file__).resolve().parents[3] / "samples"

PEOPLE = Columns(
    {
        "number": ("学号", "student_no", "number"),
        "name": ("姓名", "name"),
        "mobile": ("手机", "mobile"),
    },
    ("number", "name"),
    max_rows=3,
)


UNCAPPED = Columns(PEOPLE.headers, PEOPLE.required)


def read(table: list[list[object]], columns: Columns = PEOPLE) -> tuple[list[object], Parsed[None]]:
    parsed: Parsed[None] = Parsed()
    return list(cells_by_row(table, columns, parsed)), parsed


def test_the_header_is_found_under_a_title_line_and_rows_keep_their_spreadsheet_numbers() -> None:
    table: list[list[object]] = [
        ["2024级学生名单"],
        [],
        ["学号", "备注", "姓名"],
        ["2024001", "x", "王芳"],
        [],
        ["2024002", None, "李雷"],
    ]

    rows, parsed = read(table)

    assert rows == [
        (4, {"number": "2024001", "name": "王芳"}),
        (6, {"number": "2024002", "name": "李雷"}),
    ]
    assert parsed.errors == []
    assert parsed.rows_total == 2


def test_headers_match_loosely_by_width_case_spaces_and_separators() -> None:
    for header in (
        ["Student_No", "NAME"],
        ["ｓｔｕｄｅｎｔ－ｎｏ", " 姓 名 "],
        ["student no", "Name"],
    ):
        rows, parsed = read([header, ["1", "a"]])
        assert parsed.errors == [], header
        assert rows == [(2, {"number": "1", "name": "a"})]
    assert header_key("Student_No") == header_key("ｓｔｕｄｅｎｔ－ｎｏ") == "studentno"


def test_a_missing_or_repeated_column_is_an_error_of_the_header_row_in_both_languages() -> None:
    rows, parsed = read([["学号", "手机", "mobile"], ["1", "2", "3"]])

    assert rows == []
    assert parsed.errors == [
        RowError(1, "mobile", "duplicate_column", "表头重复：mobile", "duplicate column: mobile"),
        RowError(
            1,
            "name",
            "missing_column",
            "缺少必需的列：姓名",
            "missing required column: 姓名 (name)",
        ),
    ]


def test_the_errors_reported_without_a_header_are_those_of_the_first_non_blank_row() -> None:
    table: list[list[object]] = [[], ["名单"], ["学号"], ["姓名"], ["x"], ["学号", "姓名"]]

    rows, parsed = read(table)

    assert rows == []  # the header stood too far down
    assert [(e.row, e.code) for e in parsed.errors] == [
        (2, "missing_column"),
        (2, "missing_column"),
    ]


def test_an_empty_table_is_one_error() -> None:
    for table in ([], [[], [None, " "]]):
        assert read(table)[1].errors == [
            RowError(1, "", "empty_file", "文件为空", "the file is empty")
        ]


def test_the_row_past_the_cap_is_refused_and_reading_stops_there() -> None:
    table: list[list[object]] = [["学号", "姓名"], *[[str(n), "x"] for n in range(10)]]

    rows, parsed = read(table)

    assert len(rows) == 3
    assert parsed.errors == [
        RowError(
            5,
            "",
            "too_many_rows",
            "文件超过 3 行，请分批导入",
            "the file has more than 3 rows; import it in parts",
        )
    ]


def test_a_row_holding_only_unknown_columns_counts_unless_the_columns_say_otherwise() -> None:
    table: list[list[object]] = [["学号", "姓名", "备注"], [None, None, "以下为转专业学生"]]
    strict = Columns(PEOPLE.headers, PEOPLE.required)
    lenient = Columns(PEOPLE.headers, PEOPLE.required, skip_rows_blank_in_known_columns=True)

    assert read(table, strict)[0] == [(2, {"number": None, "name": None})]
    assert read(table, lenient) == ([], Parsed(rows_total=0))


def _person(number: int, cells: dict[str, str | None]) -> tuple[str | None, list[RowError]]:
    student_no = person_number(cells["number"])
    if student_no is None:
        return None, [RowError(number, "number", "invalid", "学号格式不正确", "malformed")]
    return student_no, []


def test_parse_rows_keeps_the_good_rows_and_names_every_bad_one_and_every_repeat() -> None:
    table: list[list[object]] = [
        ["学号", "姓名"],
        ["2024001", "王芳"],
        ["王芳", "2024001"],  # columns swapped
        ["2024002", "李雷"],
        ["2024001", "王芳"],
        ["2024001", "王芳"],
    ]

    parsed = parse_rows(
        table,
        UNCAPPED,
        _person,
        key=lambda no: no,
        repeated=lambda number, no, first: RowError(
            number, "number", "duplicate", f"与第 {first} 行重复", f"repeats row {first}"
        ),
    )

    assert parsed.records == ["2024001", "2024002"]
    assert parsed.rows_total == 5
    assert [(e.row, e.code, e.message_en) for e in parsed.errors] == [
        (3, "invalid", "malformed"),
        (5, "duplicate", "repeats row 2"),
        (6, "duplicate", "repeats row 2"),  # the first accepted row, not the last repeat
    ]
    assert parse_rows(table, UNCAPPED, _person).records == [
        "2024001",
        "2024002",
        "2024001",
        "2024001",
    ]
    with pytest.raises(TypeError):
        parse_rows(table, UNCAPPED, _person, key=lambda no: no)


def test_cells_are_nfkc_trimmed_and_whole_floats_lose_their_point() -> None:
    assert clean("  １３８ ") == "138"
    assert clean(13800000001.0) == "13800000001"
    assert clean(2.5) == "2.5"
    assert clean("王  芳") == "王 芳"
    assert clean("王  芳", collapse_spaces=False) == "王  芳"
    assert clean("　") is None  # an ideographic space is blank
    assert clean(None) is None
    keep = Columns(PEOPLE.headers, PEOPLE.required, collapse_spaces=False)
    assert read([["学号", "姓名"], ["1", " 王  芳 "]], keep)[0] == [
        (2, {"number": "1", "name": "王  芳"})
    ]


def test_two_fields_may_not_claim_the_same_header() -> None:
    with pytest.raises(ValueError, match="stands for both"):
        Columns({"a": ("学号",), "b": ("学 号",)})
    with pytest.raises(ValueError, match="without headers"):
        Columns({"a": ("学号",)}, ("b",))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("13800000001", "13800000001"),
        ("+86 138-0000-0001", "13800000001"),
        ("0086(138)00000001", "13800000001"),
        ("12800000001", None),  # no mainland mobile starts 12
        ("1380000000", None),
        ("010-12345678", None),  # a landline
        ("", None),
        (None, None),
    ],
)
def test_mobile_numbers_are_normalised_to_their_eleven_digits(
    text: str | None, expected: str | None
) -> None:
    assert mobile_number(text) == expected


def test_person_numbers_emails_and_vocabulary_names() -> None:
    assert person_number("2024-CS_001") == "2024-CS_001"
    assert person_number("-1") is None
    assert person_number("王芳") is None
    assert person_number("x" * 33) is None
    assert is_email("wang.fang@example.edu.cn")
    assert not is_email("wang fang@example.edu.cn")
    assert not is_email("wang@localhost")


@pytest.mark.parametrize(
    "text",
    [
        "t1001,boss@evil.example",  # To: t1001, boss@evil.example
        "x;y@evil.example",
        "a<spy@evil.example",
        "a(note)@uni.edu.cn",
        '"a"@uni.edu.cn',
        "a@uni.edu.cn\n",
        "a@uni:25.edu.cn",
    ],
)
def test_an_email_address_that_a_mail_header_would_read_as_more_is_refused(text: str) -> None:
    """The threat: a contacts cell such as `t1001,boss@evil.example` passed as one address
    and became a To header of two mailboxes, copying a person's alerts (and their confirming
    links) to an outsider. Only a plain address passes: no separators, quotes, comments or
    angle brackets; the local part may still be in any script."""
    assert not is_email(text)
    assert is_email("王芳@example.edu.cn")
    assert is_email("wang.fang+alerts@xg.example.edu.cn")
    names = {"短信": "sms", "sms": "sms"}
    assert lookup_name(names, "SMS") == "sms"
    assert lookup_name(names, "短信") == "sms"
    assert lookup_name(names, "fax") is None
    assert lookup_name(names, None) is None


def test_read_table_keeps_empty_rows_so_indexes_are_row_numbers_in_every_encoding() -> None:
    text = (SAMPLES / "roster_students.csv").read_text(encoding="utf-8-sig")
    lines = text.splitlines()
    with_gap = "\n".join([lines[0], "", *lines[1:]]) + "\n"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for n, line in enumerate(with_gap.splitlines(), start=1):
        for column, value in enumerate(line.split(","), start=1):
            sheet.cell(n, column, value or None)
    xlsx = io.BytesIO()
    workbook.save(xlsx)
    uploads = {
        "utf-8": with_gap.encode(),
        "utf-8 with BOM": codecs.BOM_UTF8 + with_gap.encode(),
        "gb18030": with_gap.encode("gb18030"),
        "xlsx": xlsx.getvalue(),
    }
    limits = SheetLimits(max_rows=1_000)

    tables = {name: asyncio.run(read_table(data, limits=limits)) for name, data in uploads.items()}

    for name, table in tables.items():
        assert table[1] == [], name
        assert len(table) == len(lines) + 1, name
        assert [clean(c) for c in table[2]] == lines[1].split(",")[: len(table[2])], name
    with pytest.raises(SheetRefused) as refused:
        asyncio.run(read_table(b"\x00\x01binary", limits=limits))
    assert refused.value.status == 415
