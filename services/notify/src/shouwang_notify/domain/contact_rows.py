"""Reading contacts files as colleges export them: Chinese headers, loose values.

Input is a table (header row, then data rows, as lists of cells); output is the contacts
with the identifying number still attached (the adapter turns numbers into pseudonyms), and,
for every row that cannot be used, a `RowError` naming the spreadsheet row (the header is
row 1) and the column in zh-CN and English. An import is all or nothing: any error and
nothing is written. Unknown columns (the student's name in the family file) are ignored or
used only to check the row, never stored.

Finding the header (under a title line, with a template's note or star, merged over two
rows), cleaning cells, the number, mobile and email shapes, what Excel does to a column of
numbers (`13800000001.0` read as written; `1.38E+10` and lost leading zeros refused, saying
to export the column as text) and collecting errors by row are the kit's
(`shouwang_servicekit.rows`, as casework's roster import and intake's census use them); this
module keeps the contacts' columns and rules, `contact_cells` the shapes of their cells.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from shouwang_contracts.events.notify import NotificationChannel as Channel
from shouwang_contracts.vocabulary import Language
from shouwang_servicekit.excel_numbers import refuse_lost_leading_zeros
from shouwang_servicekit.rows import Cells, Columns, Parsed, RowError, parse_rows, person_number

from . import contact_cells as shape
from .contacts import QuietHours
from .schedule import parse_quiet_hours

MAX_ROWS = 50_000
HEADER_SEARCH_ROWS = 5
ON_DUTY_NUMBERS = frozenset({"值班", "值班电话", "值班室", "值班群", "on_duty", "onduty"})

STAFF_HEADERS: dict[str, tuple[str, ...]] = {
    "number": ("工号/学号", "工号", "学号", "staff_no", "number", "id"),
    "name": ("姓名", "name"),
    "mobile": ("手机", "手机号", "手机号码", "电话", "mobile", "phone"),
    "email": ("邮箱", "电子邮箱", "邮件", "email", "e-mail"),
    "wecom": ("企业微信账号", "企业微信", "企业微信ID", "wecom", "wecom_user"),
    "dingtalk": ("钉钉账号", "钉钉", "钉钉ID", "dingtalk", "dingtalk_user"),
    "preferred": ("首选渠道", "首选联系方式", "preferred_channel", "preferred"),
    "quiet_hours": ("免打扰时段", "免打扰", "quiet_hours"),
    "language": ("语言", "language"),
}
STAFF_REQUIRED = ("number",)

FAMILY_HEADERS: dict[str, tuple[str, ...]] = {
    "student_no": ("学号", "student_no", "studentno"),
    "student_name": ("学生姓名", "student_name"),
    "relation": ("关系", "与学生关系", "relation", "relationship"),
    "name": ("联系人姓名", "家长姓名", "联系人", "contact_name", "name"),
    "mobile": ("手机", "手机号", "手机号码", "电话", "mobile", "phone"),
    "email": ("邮箱", "电子邮箱", "email", "e-mail"),
    "language": ("语言", "language"),
}
FAMILY_REQUIRED = ("student_no", "relation", "name")


# Contacts keep inner spaces as written (a family member's name is stored), and a row that
# holds nothing in a known column (a remark, a divider line) is passed over.
STAFF_COLUMNS = Columns(
    STAFF_HEADERS,
    STAFF_REQUIRED,
    max_rows=MAX_ROWS,
    header_search_rows=HEADER_SEARCH_ROWS,
    collapse_spaces=False,
    skip_rows_blank_in_known_columns=True,
)
FAMILY_COLUMNS = Columns(
    FAMILY_HEADERS,
    FAMILY_REQUIRED,
    max_rows=MAX_ROWS,
    header_search_rows=HEADER_SEARCH_ROWS,
    collapse_spaces=False,
    skip_rows_blank_in_known_columns=True,
)


# What a malformed 工号/学号 should be (the kit's `person_number`), told without the cell.
_NUMBER_RULE_ZH = (
    "请按学校发放的号码填写，只含字母、数字、- 或 _，以字母或数字开头，最多 32 位，"
    "不要有空格、汉字或其他符号"
)
_NUMBER_RULE_EN = (
    "write it as the college issued it: letters, digits, - or _, starting with a letter or "
    "digit, at most 32 characters, no spaces, Chinese characters or other symbols"
)


@dataclass(frozen=True, slots=True)
class StaffRow:
    """A staff contact as read: `number` is the 工号/学号 (None for the on-duty row)."""

    row: int
    number: str | None
    mobile: str | None
    email: str | None
    wecom_user: str | None
    dingtalk_user: str | None
    preferred: Channel | None
    quiet_hours: QuietHours | None
    language: Language


@dataclass(frozen=True, slots=True)
class FamilyRow:
    """A family contact as read; `rank` orders a student's contacts as the file does."""

    row: int
    student_no: str
    relation: str
    name: str
    mobile: str | None
    email: str | None
    language: Language
    rank: int


def parse_staff_contacts(table: Iterable[Sequence[object]]) -> Parsed[StaffRow]:
    """Staff contacts (and the `值班` on-duty row) from a table whose header names the columns."""
    parsed = parse_rows(
        table,
        STAFF_COLUMNS,
        _staff_row,
        key=lambda row: row.number,
        repeated=lambda number, row, first: RowError(
            number,
            "number",
            "duplicate_person",
            f"{row.number or '值班'} 与第 {first} 行重复",
            f"{row.number or '值班'} repeats row {first}",
        ),
    )
    numbers = [(row.row, row.number) for row in parsed.records if row.number]
    return refuse_lost_leading_zeros(
        parsed, numbers, "number", "工号/学号", key=lambda row: row.number, quote=False
    )


def _staff_row(number: int, cells: Cells) -> tuple[StaffRow | None, list[RowError]]:
    errors: list[RowError] = []
    raw = cells.get("number")
    staff_no: str | None = None
    if not raw:
        errors.append(
            RowError(
                number, "number", "required", "缺少工号/学号", "staff or student number is missing"
            )
        )
    elif raw.lower() not in ON_DUTY_NUMBERS and (
        read := shape.excel_text(number, "number", "工号/学号", raw, errors)
    ):
        if person_number(read):
            staff_no = read
        else:
            errors.append(
                RowError(
                    number,
                    "number",
                    "invalid",
                    f"工号/学号格式不正确：{_NUMBER_RULE_ZH}",
                    f"staff or student number is malformed: {_NUMBER_RULE_EN}",
                )
            )
    mobile = shape.mobile(number, cells.get("mobile"), errors)
    email = shape.email(number, cells.get("email"), errors)
    wecom = shape.account(number, "wecom", cells.get("wecom"), errors)
    dingtalk = shape.account(number, "dingtalk", cells.get("dingtalk"), errors)
    preferred = shape.channel(number, cells.get("preferred"), errors)
    quiet: QuietHours | None = None
    try:
        quiet = parse_quiet_hours(cells.get("quiet_hours"))
    except ValueError:
        errors.append(
            RowError(
                number,
                "quiet_hours",
                "invalid_quiet_hours",
                "免打扰时段无法识别（应如 23:00-07:00）",
                "quiet hours not understood (e.g. 23:00-07:00)",
            )
        )
    language = shape.language(number, cells.get("language"), errors)
    addresses = {
        Channel.SMS: mobile,
        Channel.EMAIL: email,
        Channel.WECOM: wecom,
        Channel.DINGTALK: dingtalk and mobile,
    }
    if not errors and not any(addresses.values()):
        errors.append(
            RowError(
                number,
                "mobile",
                "unreachable",
                "至少需要手机、邮箱、企业微信或钉钉中的一项",
                "at least one of mobile, email, WeCom or DingTalk is needed",
            )
        )
    if not errors and preferred is not None and not addresses.get(preferred):
        errors.append(
            RowError(
                number,
                "preferred",
                "preferred_without_address",
                "首选渠道没有对应的联系方式（钉钉还需要手机号）",
                "the preferred channel has no address on this row (DingTalk also needs the mobile)",
            )
        )
    if errors or not raw:
        return None, errors
    return (
        StaffRow(number, staff_no, mobile, email, wecom, dingtalk, preferred, quiet, language),
        [],
    )


def parse_family_contacts(table: Iterable[Sequence[object]]) -> Parsed[FamilyRow]:
    """Family contacts, one row per contact person; a student's rows keep the file's order."""
    parsed = parse_rows(
        table,
        FAMILY_COLUMNS,
        _family_row,
        key=lambda row: (row.student_no, row.relation, row.name),
        repeated=lambda number, row, first: RowError(
            number, "name", "duplicate_contact", f"与第 {first} 行重复", f"repeats row {first}"
        ),
    )
    numbers = [(row.row, row.student_no) for row in parsed.records]
    refuse_lost_leading_zeros(
        parsed, numbers, "student_no", "学号", key=lambda row: row.student_no, quote=False
    )
    ranks: dict[str, int] = {}
    for index, row in enumerate(parsed.records):
        rank = ranks.get(row.student_no, 0)
        ranks[row.student_no] = rank + 1
        parsed.records[index] = replace(row, rank=rank)
    return parsed


def _family_row(number: int, cells: Cells) -> tuple[FamilyRow | None, list[RowError]]:
    errors: list[RowError] = []
    student_no = cells.get("student_no")
    if not student_no:
        errors.append(
            RowError(number, "student_no", "required", "缺少学号", "student number is missing")
        )
    elif (
        student_no := shape.excel_text(number, "student_no", "学号", student_no, errors)
    ) and not person_number(student_no):
        errors.append(
            RowError(
                number,
                "student_no",
                "invalid",
                f"学号格式不正确：{_NUMBER_RULE_ZH}",
                f"student number is malformed: {_NUMBER_RULE_EN}",
            )
        )
    relation, name = cells.get("relation"), cells.get("name")
    if not relation:
        errors.append(
            RowError(
                number,
                "relation",
                "required",
                "缺少关系（如 父亲、母亲、监护人）",
                "relation is missing (e.g. father, mother, guardian)",
            )
        )
    elif len(relation) > 16:
        errors.append(
            RowError(
                number,
                "relation",
                "too_long",
                "关系最多 16 个字符",
                "relation is at most 16 characters",
            )
        )
    if not name:
        errors.append(
            RowError(number, "name", "required", "缺少联系人姓名", "contact name is missing")
        )
    elif len(name) > 64:
        errors.append(
            RowError(
                number,
                "name",
                "too_long",
                "联系人姓名最多 64 个字符",
                "contact name is at most 64 characters",
            )
        )
    mobile = shape.mobile(number, cells.get("mobile"), errors)
    email = shape.email(number, cells.get("email"), errors)
    language = shape.language(number, cells.get("language"), errors)
    if not errors and not (mobile or email):
        errors.append(
            RowError(
                number,
                "mobile",
                "unreachable",
                "至少需要手机或邮箱中的一项",
                "a mobile number or an email address is needed",
            )
        )
    if errors or not student_no or not relation or not name:
        return None, errors
    return FamilyRow(number, student_no, relation, name, mobile, email, language, 0), []
