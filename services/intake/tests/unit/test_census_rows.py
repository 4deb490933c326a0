"""Census files as colleges export them: the shared samples, GB18030, XLSX, bad rows."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook
from shouwang_contracts.instruments import BehaviorRecency, Instrument
from shouwang_intake.adapters.census_files import UnreadableFile, detect_encoding, iter_rows
from shouwang_intake.domain.census import CensusRow, Columns, HeaderError, RowError, parse_row

SAMPLES = Path(__file__).resolve().parents[4] / ".." / "shared" / "samples"
ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 29, tzinfo=UTC)


def _parse_all(
    stream: io.BufferedIOBase | io.BytesIO, name: str
) -> tuple[list[CensusRow], list[RowError]]:
    rows = iter_rows(stream, name)  # type: ignore[arg-type]
    columns = Columns.from_header(next(rows)[1])
    good: list[CensusRow] = []
    bad: list[RowError] = []
    for number, cells in rows:
        result = parse_row(number, cells, columns, zone=ZONE, now=NOW)
        if isinstance(result, list):
            bad.extend(result)
        else:
            good.append(result)
    return good, bad


def test_the_sample_census_parses_with_its_four_bad_rows_by_number() -> None:
    with (SAMPLES / "census_phq9.csv").open("rb") as handle:
        good, bad = _parse_all(handle, "census_phq9.csv")
    assert len(good) == 40
    assert {e.row_number for e in bad} == {42, 43, 44, 45}
    by_row = {e.row_number: e for e in bad}
    assert by_row[42].field == "student_no"
    assert by_row[43].code == "out_of_range"
    assert by_row[44].code == "item_count"
    assert by_row[45].field == "administered_at"
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
    assert len(good) == 40
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
    assert len(good) == 1
    assert good[0].behavior_recency is BehaviorRecency.PAST_3_MONTHS
    assert good[0].items == [1, 1, 0, 0, 0, 1]
    assert [(e.row_number, e.field) for e in bad] == [(3, "behavior_recency")]


def test_future_times_and_unknown_instruments_are_row_errors() -> None:
    data = (
        "学号,测评时间,量表,第1题\n2024,2027-01-01 00:00,PHQ-9,0\n2025,2026-09-10,XYZ,0\n".encode()
    )
    _, bad = _parse_all(io.BytesIO(data), "x.csv")
    codes = {(e.row_number, e.code) for e in bad}
    assert (2, "future") in codes
    assert (3, "unknown") in codes


def test_a_header_without_student_numbers_is_refused_whole() -> None:
    rows = iter_rows(io.BytesIO("姓名,第1题\n张三,1\n".encode()), "x.csv")
    with pytest.raises(HeaderError):
        Columns.from_header(next(rows)[1])


def test_binary_garbage_is_unreadable() -> None:
    with pytest.raises(UnreadableFile):
        list(iter_rows(io.BytesIO(b"\x00\x01\x02" * 100), "x.csv"))
