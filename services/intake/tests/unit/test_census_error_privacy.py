"""A census batch's row errors are read by every campus-wide reader of the campus (the
counseling center, a campus admin), not only by the screener who holds the file, and are
kept with the batch: they say which row and column to look at and what is wrong, and never
quote the cell (a student's number, or what was written about their answers)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from shouwang_intake.domain.census import Cell, Columns, RowError, parse_row

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 29, tzinfo=UTC)
HEADER: list[Cell] = ["学号", "测评时间", "量表", *[f"第{i}题" for i in range(1, 7)], "第6题时间"]


def _errors(cells: list[Cell]) -> list[RowError]:
    result = parse_row(7, cells, Columns.from_header(HEADER), zone=ZONE, now=NOW)
    return result if isinstance(result, list) else list(result.defects)


def _said(errors: list[RowError]) -> str:
    return " | ".join(f"{e.message} {e.message_en}" for e in errors)


def test_a_campus_admin_cannot_read_a_students_number_in_census_row_errors() -> None:
    mistyped = _errors(["2024020001。", "2026-09-10 09:30", "C-SSRS", 1, 1, 0, 0, 0, 1, "近3个月"])
    excel = _errors(["2.02402E+09", "2026-09-10 09:30", "C-SSRS", 1, 1, 0, 0, 0, 1, "近3个月"])

    assert [(e.field, e.code) for e in mistyped] == [("student_no", "invalid")]
    assert [(e.field, e.code) for e in excel] == [("student_no", "scientific_notation")]
    assert "2024020001" not in _said(mistyped)
    assert "2.02402E+09" not in _said(excel)
    assert "学号" in mistyped[0].message  # the column is still named


def test_a_campus_admin_cannot_read_what_a_screener_wrote_of_a_students_behaviour() -> None:
    written = "昨晚在8号楼天台试图跳楼"
    unknown = _errors(["2024020001", "2026-09-10 09:30", "C-SSRS", 0, 0, 0, 0, 0, 0, written])
    assumed = _errors(["2024020001", "2026-09-10 09:30", "C-SSRS", 1, 1, 0, 0, 0, 1, written])

    assert [(e.field, e.code) for e in unknown] == [("behavior_recency", "invalid")]
    assert [(e.field, e.code) for e in assumed] == [("behavior_recency", "recency_assumed")]
    for errors in (unknown, assumed):
        assert written not in _said(errors)
        assert "天台" not in _said(errors)


def test_a_campus_admin_cannot_read_a_name_a_shifted_row_put_in_another_column() -> None:
    shifted = _errors(["2024020001", "2026-09-10 09:30", "测试学生01", 1, 1, 0, 0, 0, 1])

    assert [(e.field, e.code) for e in shifted] == [("instrument", "unknown")]
    assert "测试学生01" not in _said(shifted)
