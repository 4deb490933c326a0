"""JSON contact bodies checked by the same rules as an imported file's rows.

A body becomes a one-row table with the file's own headers, so the API and the import can
never disagree on what a valid mobile number or quiet-hours span is.
"""

from __future__ import annotations

from shouwang_servicekit.rows import RowError

from ..domain.contact_rows import (
    FamilyRow,
    StaffRow,
    parse_family_contacts,
    parse_staff_contacts,
)
from . import http_schemas as s

_STAFF_HEADER = [
    "工号/学号",
    "手机",
    "邮箱",
    "企业微信账号",
    "钉钉账号",
    "首选渠道",
    "免打扰时段",
    "语言",
]
_FAMILY_HEADER = ["学号", "关系", "联系人姓名", "手机", "邮箱", "语言"]


def staff_row(number: str, body: s.StaffContactBody) -> tuple[StaffRow | None, list[RowError]]:
    parsed = parse_staff_contacts(
        [
            _STAFF_HEADER,
            [
                number,
                body.mobile,
                body.email,
                body.wecom_user,
                body.dingtalk_user,
                body.preferred.value if body.preferred else None,
                body.quiet_hours,
                body.language,
            ],
        ]
    )
    return (parsed.records[0] if parsed.records else None), parsed.errors


def family_rows(
    student_no: str, body: s.FamilyContactsBody
) -> tuple[list[FamilyRow], list[RowError]]:
    if not body.members:
        return [], []
    parsed = parse_family_contacts(
        [
            _FAMILY_HEADER,
            *[
                [student_no, m.relation, m.name, m.mobile, m.email, m.language]
                for m in body.members
            ],
        ]
    )
    return parsed.records, parsed.errors
