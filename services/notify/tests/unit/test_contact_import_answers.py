"""What a contacts import tells its operator: how to write a malformed 工号/学号, when a file
was imported before (as notify's messages write a time), and which rows the roster does not
know. By row and column, never quoting a number."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from shouwang_notify.domain.contact_roster import rows_off_roster, warnings_message
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


def test_rows_off_the_roster_are_warned_by_row_in_row_order() -> None:
    refs = [(5, "s_c"), (2, "s_a"), (3, "s_b"), (4, "s_a")]
    warnings = rows_off_roster("family", refs, known={"s_b"})
    assert [(w.row, w.field, w.code) for w in warnings] == [
        (2, "student_no", "student_not_on_roster"),
        (4, "student_no", "student_not_on_roster"),
        (5, "student_no", "student_not_on_roster"),
    ]
    assert rows_off_roster("family", refs, known={"s_a", "s_b", "s_c"}) == []
    [staff] = rows_off_roster("staff", [(7, "p_x")], known=set())
    assert (staff.row, staff.field, staff.code) == (7, "number", "staff_without_role")
    assert "请核对工号" in staff.message
    assert "check it" in staff.message_en


def test_the_warnings_summary_lists_rows_and_cuts_a_long_list() -> None:
    few = rows_off_roster("family", [(3, "a"), (9, "b")], known=set())
    assert warnings_message("family", few, 40, "zh-CN").startswith(
        "已导入 40 条联系人。第 3、9 行的学号不在本校学生名册上，请核对"
    )
    assert warnings_message("staff", few, 40, "en").startswith(
        "40 contacts imported. Rows 3, 9: the staff number holds no role"
    )
    many = rows_off_roster("family", [(n, f"r{n}") for n in range(2, 40)], known=set())
    assert "第 2、3、4、5、6、7、8、9、10、11 等 38 行的学号" in warnings_message(
        "family", many, 38, "zh-CN"
    )
    assert "Rows 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 and 28 more:" in warnings_message(
        "family", many, 38, "en"
    )


def test_a_family_files_warnings_say_when_contacts_of_an_unnamed_student_end() -> None:
    few = rows_off_roster("family", [(3, "a")], known=set())
    chinese = warnings_message("family", few, 4, "zh-CN", unnamed_days=30)
    assert chinese.endswith(
        "。导入 30 天后学生名册仍无此学号的，其家属联系方式将被删除（误填的学号不予保留）"
    )
    english = warnings_message("family", few, 4, "en", unnamed_days=30)
    assert "still does not name 30 days after this import are deleted then" in english
    # Staff rows are not deleted for it: their warning says nothing of an end.
    assert "天后" not in warnings_message("staff", few, 4, "zh-CN", unnamed_days=30)
