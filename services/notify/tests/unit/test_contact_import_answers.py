"""What a contacts import tells its operator: how to write a malformed 工号/学号, when a file
was imported before (as notify's messages write a time), and which rows the roster does not
know. By row and column, never quoting a number."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from shouwang_notify.domain.contact_rows import parse_family_contacts, parse_staff_contacts
from shouwang_notify.entrypoints.contact_imports import replay_message

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_a_malformed_staff_number_says_how_to_write_it_without_quoting_it() -> None:
    cell = "T 1001（辅导员）"
    parsed = parse_staff_contacts([["工号/学号", "手机"], [cell, "13800000001"]])
    [error] = parsed.errors
    assert (error.row, error.field, error.code) == (2, "number", "invalid")
    assert error.message.startswith("工号/学号格式不正确：请按学校发放的号码填写")
    assert "字母、数字、- 或 _" in error.message
    assert "最多 32 位" in error.message
    assert error.message_en.startswith("staff or student number is malformed: write it as")
    assert "at most 32 characters" in error.message_en
    for text in (error.message, error.message_en):
        assert cell not in text
        assert "1001" not in text


def test_a_malformed_student_number_in_a_family_file_says_how_to_write_it() -> None:
    cell = "2024/020001"
    parsed = parse_family_contacts(
        [["学号", "关系", "联系人姓名", "手机"], [cell, "母亲", "测试家长", "13900000001"]]
    )
    [error] = parsed.errors
    assert (error.row, error.field, error.code) == (2, "student_no", "invalid")
    assert error.message.startswith("学号格式不正确：请按学校发放的号码填写")
    assert error.message_en.startswith("student number is malformed: write it as")
    for text in (error.message, error.message_en):
        assert "2024" not in text


def test_a_replay_writes_its_time_as_notify_messages_do() -> None:
    first = datetime(2026, 12, 7, 20, 53, tzinfo=UTC)  # 12月8日 04:53 in Shanghai
    now = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)
    assert replay_message(first, None, SHANGHAI, "zh-CN", now) == (
        "该文件已于 12月8日 04:53 导入过，本次未做任何更改"
    )
    assert replay_message(first, None, SHANGHAI, "en", now) == (
        "This file was already imported on 08 Dec 04:53; nothing was changed"
    )


def test_a_replay_of_a_file_imported_in_another_year_names_the_year() -> None:
    first = datetime(2025, 9, 1, 1, 5, tzinfo=UTC)
    now = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)
    assert "2025年9月1日 09:05" in replay_message(first, 2, SHANGHAI, "zh-CN", now)
    assert "on 01 Sep 2025 09:05" in replay_message(first, 2, SHANGHAI, "en", now)
