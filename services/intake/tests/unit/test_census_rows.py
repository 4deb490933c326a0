"""Census files as colleges export them: the shared samples, GB18030, XLSX, bad rows."""

from __future__ import annotations

import asyncio
import io
import re
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook
from shouwang_contracts.instruments import BehaviorRecency, Instrument
from shouwang_intake.adapters.census_files import UnreadableFile, detect_encoding, sheet_rows
from shouwang_intake.domain.census import Cell, CensusRow, Columns, HeaderError, RowError, parse_row
from shouwang_servicekit.spreadsheets import SheetLimits

SAMPLES = Path(__file__).resolve().parents[4] / "samples"
PARTIAL = Path(__file__).resolve().parents[4] / "tests" / "fixtures" / "census_partial_rows.csv"
ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 29, tzinfo=UTC)


def iter_rows(
    stream: io.BufferedIOBase | io.BytesIO, name: str
) -> Iterator[tuple[int, list[Cell]]]:
    """The rows the kit's worker hands out, in order, then its refusal (if it refused)."""
    read: list[tuple[int, list[Cell]]] = []

    async def collect() -> None:
        async for row in sheet_rows(stream.read(), SheetLimits()):
            read.append(row)

    refused: UnreadableFile | None = None
    try:
        asyncio.run(collect())
    except UnreadableFile as exc:
        refused = exc
    yield from read
    if refused is not None:
        raise refused


def _parse_all(
    stream: io.BufferedIOBase | io.BytesIO, name: str
) -> tuple[list[CensusRow], list[RowError]]:
    """The rows that go to triage, and every defect listed (rejected rows' and graded rows')."""
    rows = iter_rows(stream, name)  # type: ignore[arg-type]
    columns = Columns.from_header(next(rows)[1])
    good: list[CensusRow] = []
    bad: list[RowError] = []
    for number, cells in rows:
        result = parse_row(number, cells, columns, zone=ZONE, now=NOW)
        if isinstance(result, list):
            assert not any(e.graded for e in result)
            bad.extend(result)
        else:
            assert all(e.graded for e in result.defects)
            good.append(result)
            bad.extend(result.defects)
    return good, bad


def test_the_sample_census_parses_with_its_four_bad_rows_by_number() -> None:
    with (SAMPLES / "census_phq9.csv").open("rb") as handle:
        good, bad = _parse_all(handle, "census_phq9.csv")
    # Only the row without a student number is rejected; the others are graded on what
    # they say, flagged incomplete, and still listed by row.
    assert len(good) == 43
    assert {e.row_number for e in bad} == {42, 43, 44, 45}
    assert {e.row_number for e in bad if not e.graded} == {42}
    by_row = {e.row_number: e for e in bad}
    assert by_row[42].field == "student_no"
    assert (by_row[43].field, by_row[43].code) == ("item_4", "out_of_range")
    assert (by_row[44].field, by_row[44].code) == ("items", "unanswered")
    assert by_row[45].field == "administered_at"
    partial = {row.row_number: row for row in good if row.incomplete}
    assert set(partial) == {43, 44, 45}
    assert partial[43].unanswered == (4,)
    assert partial[44].unanswered == (4, 5, 6, 7, 8, 9)
    assert partial[44].items == [0, 1, 2, 0, 0, 0, 0, 0, 0]
    assert partial[45].unreadable == ("administered_at",)
    assert partial[45].administered_at == NOW
    first = good[0]
    assert first.student_no == "2024020001"
    assert first.instrument is Instrument.PHQ9
    assert first.items == [0, 0, 1, 2, 0, 0, 3, 1, 0]
    assert first.administered_at == datetime(2026, 9, 10, 9, 30, tzinfo=ZONE)
    assert all("测试学生" not in e.message for e in bad)  # names never echo back


def test_gb18030_export_reads_the_same() -> None:
    text = (SAMPLES / "census_phq9.csv").read_text(encoding="utf-8")
    encoded = text.encode("gb18030")
    assert detect_encoding(encoded) == "gb18030"
    good, bad = _parse_all(io.BytesIO(encoded), "census.csv")
    assert len(good) == 43
    assert len({e.row_number for e in bad}) == 4


def test_utf8_bom_is_tolerated() -> None:
    data = "\ufeff学号,测评时间,量表,第1题,第2题,第3题,第4题,第5题,第6题,第7题\n2024,2026-09-10 09:30,GAD-7,0,1,2,3,0,1,2\n".encode()
    good, bad = _parse_all(io.BytesIO(data), "gad.csv")
    assert bad == []
    assert good[0].instrument is Instrument.GAD7


def test_xlsx_export_with_real_datetimes() -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(
        ["学号", "姓名", "测评时间", "量表", *[f"第{i}题" for i in range(1, 7)], "第6题时间"]
    )
    sheet.append(
        ["2024010003", "某某", datetime(2026, 9, 10, 10, 0), "C-SSRS", 1, 1, 0, 0, 0, 1, "近3个月"]
    )
    sheet.append(
        ["2024010004", "某某", datetime(2026, 9, 10, 10, 0), "C-SSRS", 0, 0, 0, 0, 0, 1, ""]
    )
    buffer = io.BytesIO()
    book.save(buffer)
    buffer.seek(0)
    good, bad = _parse_all(buffer, "cssrs.xlsx")
    assert len(good) == 2
    assert good[0].behavior_recency is BehaviorRecency.PAST_3_MONTHS
    assert good[0].items == [1, 1, 0, 0, 0, 1]
    assert not good[0].incomplete
    # Q6 yes with a blank recency: the riskier reading, flagged and listed.
    assert good[1].behavior_recency is BehaviorRecency.PAST_3_MONTHS
    assert good[1].unreadable == ("behavior_recency",)
    assert [(e.row_number, e.field, e.graded) for e in bad] == [(3, "behavior_recency", True)]


def test_future_times_and_unknown_instruments_are_row_errors() -> None:
    data = (
        "学号,测评时间,量表,第1题\n2024,2027-01-01 00:00,PHQ-9,0\n2025,2026-09-10,XYZ,0\n".encode()
    )
    good, bad = _parse_all(io.BytesIO(data), "x.csv")
    codes = {(e.row_number, e.code, e.graded) for e in bad}
    assert (2, "future", True) in codes  # graded as of the upload, listed
    assert (3, "unknown", False) in codes  # no instrument: nothing to grade
    assert [row.row_number for row in good] == [2]


def test_a_header_without_student_numbers_is_refused_whole() -> None:
    rows = iter_rows(io.BytesIO("姓名,第1题\n张三,1\n".encode()), "x.csv")
    with pytest.raises(HeaderError):
        Columns.from_header(next(rows)[1])


def test_binary_garbage_is_unreadable() -> None:
    with pytest.raises(UnreadableFile):
        list(iter_rows(io.BytesIO(b"\x00\x01\x02" * 100), "x.csv"))


def test_a_legacy_xls_is_refused_by_name_as_casework_and_notify_refuse_it() -> None:
    ole = bytes.fromhex("d0cf11e0a1b11ae1") + b"\x00" * 504
    with pytest.raises(UnreadableFile) as caught:
        list(iter_rows(io.BytesIO(ole), "普查.xls"))
    assert (caught.value.status, caught.value.code) == (415, "legacy_excel")
    assert ".xlsx" in caught.value.message


def test_a_file_that_is_no_table_is_415_not_a_damaged_census() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64
    with pytest.raises(UnreadableFile) as caught:
        list(iter_rows(io.BytesIO(png), "普查.csv"))
    assert (caught.value.status, caught.value.code) == (415, "not_a_table")


def _sample_xlsx(rows: int) -> bytes:
    """A workbook with the sample export's header and `rows` valid PHQ-9 rows."""
    header = (SAMPLES / "census_phq9.csv").read_text(encoding="utf-8").splitlines()[0]
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(header.split(","))
    for row in range(2, rows + 2):
        sheet.append([f"2025{row:06d}", "某某", datetime(2026, 9, 10, 9, 30), "PHQ-9", *[1] * 9])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _with_sheet(xlsx: bytes, damage: Callable[[bytes], bytes]) -> bytes:
    """The same archive with its first sheet's XML damaged, the rest intact."""
    source = zipfile.ZipFile(io.BytesIO(xlsx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                content = damage(content)
            target.writestr(info, content)
    return out.getvalue()


def _rows_until_unreadable(data: bytes, name: str) -> tuple[list[int], str]:
    """Row numbers read before `UnreadableFile` came, and its message."""
    read: list[int] = []
    rows = iter_rows(io.BytesIO(data), name)
    with pytest.raises(UnreadableFile) as caught:
        read.extend(number for number, _ in rows)
    assert str(caught.value) == caught.value.message  # zh-CN first
    return read, f"{caught.value.message} | {caught.value.message_en}"


def _cut_in_half(sheet: bytes) -> bytes:
    return sheet[: len(sheet) // 2]


def _a_name_in_a_number_cell(sheet: bytes) -> bytes:
    # openpyxl's reader calls int() on a numeric cell: its error quotes the cell's text.
    return re.sub(rb'(<c r="E40" t="n"><v>)[^<]*', "\\1张三".encode(), sheet, count=1)


@pytest.mark.parametrize("damage", [_cut_in_half, _a_name_in_a_number_cell])
def test_a_sheet_that_breaks_while_its_rows_are_read_is_unreadable(
    damage: Callable[[bytes], bytes],
) -> None:
    read, message = _rows_until_unreadable(_with_sheet(_sample_xlsx(200), damage), "census.xlsx")
    assert len(read) > 1  # the workbook opened and rows came before the damage
    assert f"第 {read[-1]} 行" in message
    assert f"after row {read[-1]}" in message
    assert "张三" not in message  # the cause's text may quote a cell: never echoed


def test_csv_bytes_that_stop_fitting_the_encoding_midway_are_unreadable() -> None:
    # More than the 256 KiB sniffed for the encoding is clean UTF-8; then a stray byte.
    lines = ["学号,测评时间,量表,第1题"] + [
        f"2025{n:06d},2026-09-10,PHQ-9,1" for n in range(12_000)
    ]
    data = "\n".join(lines).encode() + b"\n2025999999,2026-09-10,PHQ-9,\xff\n"
    assert len(data) > 256 * 1024
    assert detect_encoding(data[: 256 * 1024]) == "utf-8"
    read, message = _rows_until_unreadable(data, "census.csv")
    assert len(read) > 1
    assert f"第 {read[-1]} 行" in message


def test_a_gb18030_export_with_an_illegal_byte_midway_is_unreadable() -> None:
    text = (SAMPLES / "census_phq9.csv").read_text(encoding="utf-8")
    good = text.encode("gb18030")
    data = good + good.split(b"\n", 1)[1] * 20 + b"2025999999,\x80,2026-09-10,PHQ-9,1\n"
    read, message = _rows_until_unreadable(data, "census.csv")
    assert len(read) > 1
    assert "gb18030" in message
    assert f"after row {read[-1]}" in message


def test_partial_rows_are_graded_on_what_they_say_and_listed_by_row() -> None:
    with PARTIAL.open("rb") as handle:
        good, bad = _parse_all(handle, "census_partial_rows.csv")
    rows = {row.row_number: row for row in good}
    assert set(rows) == set(range(2, 14)) - {12}
    assert {e.row_number for e in bad if not e.graded} == {12}  # no student number

    # PHQ-9 item 9 = 3 with item 3 blank: the answer travels, the blank is marked.
    assert rows[2].unanswered == (3,)
    assert rows[2].items[8] == 3
    assert rows[2].items[2] == 0
    # C-SSRS recency cells as people write them.
    assert rows[3].behavior_recency is BehaviorRecency.NEVER  # "无" with Q6 no
    assert not rows[3].incomplete
    assert rows[4].behavior_recency is BehaviorRecency.PAST_3_MONTHS  # "3个月内"
    assert rows[5].behavior_recency is BehaviorRecency.PAST_3_MONTHS  # "近三个月"
    assert not rows[4].incomplete
    assert not rows[5].incomplete
    for number in (6, 7):  # blank, "不记得了": unknown reads as the riskier one
        assert rows[number].behavior_recency is BehaviorRecency.PAST_3_MONTHS
        assert rows[number].unreadable == ("behavior_recency",)
    assert rows[8].unanswered == (2,)
    assert rows[9].unanswered == tuple(range(1, 9))
    assert rows[10].unanswered == (4,)
    assert not rows[11].incomplete
    assert rows[13].unreadable == ("administered_at",)

    listed = {(e.row_number, e.field, e.code) for e in bad}
    assert (2, "items", "unanswered") in listed
    assert (10, "item_4", "not_integer") in listed
    assert (7, "behavior_recency", "recency_assumed") in listed
    assert (13, "administered_at", "invalid") in listed
    assert all("测试学生" not in e.message for e in bad)


def test_a_row_with_no_readable_answer_is_rejected() -> None:
    data = "学号,测评时间,量表,第1题,第2题\n2024,2026-09-10,GAD-7,,x\n".encode()
    good, bad = _parse_all(io.BytesIO(data), "x.csv")
    assert good == []
    assert {(e.field, e.code) for e in bad} >= {("items", "no_answers"), ("item_2", "not_integer")}
    assert not any(e.graded for e in bad)


def test_answers_beyond_the_instrument_are_listed_not_used() -> None:
    header = ",".join(["学号", "测评时间", "量表", *[f"第{i}题" for i in range(1, 10)]])
    data = f"{header}\n2024,2026-09-10,GAD-7,1,1,1,1,1,1,1,2,3\n".encode()
    good, bad = _parse_all(io.BytesIO(data), "x.csv")
    assert good[0].items == [1] * 7
    assert not good[0].incomplete
    assert [(e.field, e.code, e.graded) for e in bad] == [("items", "extra_items", True)]
