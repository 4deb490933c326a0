"""Contacts files as colleges export them: the samples, re-encoded and as XLSX."""

from __future__ import annotations

import asyncio
import codecs
import csv
import io
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
from shouwang_contracts.events.notify import NotificationChannel as Channel
from shouwang_devstack.hostile_files import (
    broken_sheet,
    dimension_bomb,
    shared_strings_bomb,
    wide_row,
)
from shouwang_notify.adapters.contact_files import table_rows
from shouwang_notify.domain.contact_rows import parse_family_contacts, parse_staff_contacts
from shouwang_servicekit.spreadsheets import SheetRefused

SAMPLES = Path(__file__).resolve().parents[4] / "samples"
STAFF = (SAMPLES / "contacts_staff.csv").read_bytes()
FAMILY = (SAMPLES / "contacts_family.csv").read_bytes()


def xlsx(data: bytes) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["2025 学年联系人"])  # a title line above the header, as exports have
    for row in csv.reader(io.StringIO(data.decode("utf-8"))):
        sheet.append(
            [int(c) if isinstance(c, str) and c.isdigit() and len(c) == 11 else c for c in row]
        )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


ENCODINGS = {
    "utf-8": lambda d: d,
    "utf-8-bom": lambda d: codecs.BOM_UTF8 + d,
    "gb18030": lambda d: d.decode("utf-8").encode("gb18030"),
    "xlsx": xlsx,
}


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_staff_sample_reads_the_same_in_every_shape(encoding: str) -> None:
    parsed = parse_staff_contacts(await table_rows(ENCODINGS[encoding](STAFF)))
    assert parsed.errors == []
    assert len(parsed.records) == 9
    by_number = {row.number: row for row in parsed.records}
    counselor = by_number["T1001"]
    assert counselor.mobile == "13800000001"
    assert counselor.wecom_user == "wx_t1001"
    assert counselor.preferred is Channel.WECOM
    assert str(counselor.quiet_hours) == "23:00-07:00"
    on_duty = by_number[None]  # the 值班 row
    assert on_duty.mobile == "13800000999"
    assert on_duty.preferred is Channel.SMS


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_family_sample_reads_the_same_in_every_shape(encoding: str) -> None:
    parsed = parse_family_contacts(await table_rows(ENCODINGS[encoding](FAMILY)))
    assert parsed.errors == []
    rows = [(r.student_no, r.relation, r.rank, r.mobile, r.email) for r in parsed.records]
    assert rows[0] == ("2024020001", "母亲", 0, "13900000001", None)
    assert rows[1] == ("2024020001", "父亲", 1, "13900000002", "p01b@example.com")
    assert rows[3] == ("2024010003", "父亲", 0, None, "p03@example.com")


async def test_errors_name_the_spreadsheet_row_and_column() -> None:
    text = (
        "工号/学号,姓名,手机,邮箱,企业微信账号,钉钉账号,首选渠道,免打扰时段\n"
        "T1001,甲,13800000001,,,,短信,\n"
        "T1002,乙,1380000,,,,,\n"
        "T1003,丙,,bad-email,,,,\n"
        "T1004,丁,13800000004,,,,钉钉,\n"
        "T1005,戊,13800000005,,,,信鸽,\n"
        "T1006,己,13800000006,,,,,午夜\n"
        "T1001,甲,13800000001,,,,,\n"
        "T1008,庚,,,,,,\n"
    ).encode()
    parsed = parse_staff_contacts(await table_rows(text))
    found = {(e.row, e.field, e.code) for e in parsed.errors}
    assert found == {
        (3, "mobile", "invalid_mobile"),
        (4, "email", "invalid_email"),
        (5, "preferred", "preferred_without_address"),
        (6, "preferred", "unknown_channel"),
        (7, "quiet_hours", "invalid_quiet_hours"),
        (8, "number", "duplicate_person"),
        (9, "mobile", "unreachable"),
    }
    assert all(e.message and e.message_en for e in parsed.errors)


async def test_family_rows_need_a_way_to_reach_them_and_a_relation() -> None:
    text = (
        "学号,学生姓名,关系,联系人姓名,手机,邮箱\n"
        "2024020001,学生,,家长,13900000001,\n"
        "2024020001,学生,母亲,家长,,\n"
        "2024020001,学生,母亲,家长乙,+86 139-0000-0003,\n"
    ).encode()
    parsed = parse_family_contacts(await table_rows(text))
    assert {(e.row, e.code) for e in parsed.errors} == {(2, "required"), (3, "unreachable")}
    assert parsed.records[0].mobile == "13900000003"


async def test_missing_columns_and_unreadable_files_are_refused_clearly() -> None:
    parsed = parse_family_contacts(await table_rows("姓名,手机\n甲,13900000001\n".encode()))
    assert {e.field for e in parsed.errors} == {"student_no", "relation", "name"}
    with pytest.raises(SheetRefused) as legacy:
        await table_rows(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)
    assert legacy.value.code == "legacy_excel"
    with pytest.raises(SheetRefused) as broken:
        await table_rows(b"PK\x03\x04 not really a zip")
    assert broken.value.code == "malformed_xlsx"


HEADER = ["工号/学号", "姓名", "手机", "邮箱", "首选渠道"]


@pytest.mark.parametrize(
    ("build", "status", "code"),
    [
        (lambda: b'T1,"' + b"x" * 200_000 + b'"\n', 422, "malformed_csv"),
        (lambda: broken_sheet(HEADER), 422, "malformed_xlsx"),
        (lambda: dimension_bomb(HEADER), 413, "too_many_rows"),
        (lambda: wide_row(HEADER, "XFD"), 413, "too_many_columns"),
        (lambda: shared_strings_bomb(HEADER, 100), 413, "xlsx_unpacks_too_large"),
    ],
    ids=["endless-csv-field", "broken-sheet-xml", "dimension-bomb", "far-cell", "strings-bomb"],
)
async def test_a_hostile_contacts_file_is_refused_with_its_reason_never_a_server_error(
    build: Callable[[], bytes], status: int, code: str
) -> None:
    # Read in notify's own process these answered 500 (csv.Error, a parse error mid-sheet)
    # or were padded and parsed beside the alerts; now a worker within budgets refuses them.
    data = await asyncio.to_thread(build)
    with pytest.raises(SheetRefused) as refused:
        await table_rows(data)
    assert (refused.value.status, refused.value.code) == (status, code)
    assert refused.value.message
    assert refused.value.message_en


def test_a_contact_row_error_never_echoes_the_cell() -> None:
    """The threat: a row error put the cell's text in the 422's `errors` (language, preferred
    channel, quiet hours), so a file with its columns shifted answered with the mobile
    numbers it held, into logs and tools that keep refusals, where every other refusal names
    the column and the code only."""
    header = ["工号/学号", "手机", "首选渠道", "免打扰时段", "语言"]
    mobile = "13812345678"
    parsed = parse_staff_contacts([header, ["T9001", "13800000009", mobile, mobile, mobile]])
    assert {e.code for e in parsed.errors} == {
        "unknown_channel",
        "invalid_quiet_hours",
        "unknown_language",
    }
    for error in parsed.errors:
        assert mobile not in error.message
        assert mobile not in error.message_en
