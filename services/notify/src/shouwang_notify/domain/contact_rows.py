"""Reading contacts files as colleges export them: Chinese headers, loose values.

Input is a table (header row, then data rows, as lists of cells); output is the contacts
with the identifying number still attached (the adapter turns numbers into pseudonyms), and,
for every row that cannot be used, a `RowError` naming the spreadsheet row (the header is
row 1) and the column in zh-CN and English. An import is all or nothing: any error and
nothing is written. Unknown columns (the student's name in the family file) are ignored or
used only to check the row, never stored.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from shouwang_contracts.events.notify import NotificationChannel as Channel
from shouwang_contracts.vocabulary import Language

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

CHANNEL_NAMES: dict[str, Channel] = {
    "企业微信": Channel.WECOM,
    "微信": Channel.WECOM,
    "wecom": Channel.WECOM,
    "钉钉": Channel.DINGTALK,
    "dingtalk": Channel.DINGTALK,
    "短信": Channel.SMS,
    "手机": Channel.SMS,
    "sms": Channel.SMS,
    "邮件": Channel.EMAIL,
    "邮箱": Channel.EMAIL,
    "电子邮件": Channel.EMAIL,
    "email": Channel.EMAIL,
}
LANGUAGE_NAMES: dict[str, Language] = {
    "中文": "zh-CN",
    "简体中文": "zh-CN",
    "zh": "zh-CN",
    "zh-cn": "zh-CN",
    "英文": "en",
    "英语": "en",
    "english": "en",
    "en": "en",
}

_NUMBER = re.compile(r"^[0-9A-Za-z][0-9A-Za-z\-_]{0,31}$")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
_ACCOUNT = re.compile(r"^[0-9A-Za-z._@\-]{1,64}$")


@dataclass(frozen=True, slots=True)
class RowError:
    """Why one row (or the header, row 1) cannot be imported."""

    row: int
    field: str
    code: str
    message: str
    message_en: str


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


T = TypeVar("T")


@dataclass
class Parsed(Generic[T]):
    """Rows read, errors found, and how many data rows there were."""

    rows: list[T] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    rows_total: int = 0


def clean(value: object) -> str | None:
    """A cell as trimmed NFKC text (full-width digits and spaces folded), None when blank."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # XLSX numbers: 13800000001.0 is a phone number
    text = unicodedata.normalize("NFKC", str(value)).strip()
    return text or None


def _header_key(text: object) -> str:
    value = (clean(text) or "").lower()
    return re.sub(r"[\s_\-]", "", value)


def _find_header(
    rows: Iterator[Sequence[object]],
    aliases: dict[str, tuple[str, ...]],
    required: Sequence[str],
) -> tuple[int, dict[str, int] | None, list[RowError]]:
    """(header row number, column of each field, errors). A title line above the header is
    passed over: the header is the first of the top rows naming every required column."""
    lookup = {_header_key(alias): name for name, names in aliases.items() for alias in names}
    first_errors: list[RowError] = []
    for number, header in enumerate(rows, start=1):
        columns: dict[str, int] = {}
        errors: list[RowError] = []
        for index, cell in enumerate(header):
            name = lookup.get(_header_key(cell))
            if name is None:
                continue
            if name in columns:
                errors.append(
                    RowError(
                        number,
                        name,
                        "duplicate_column",
                        f"表头重复：{cell}",
                        f"duplicate column: {cell}",
                    )
                )
            columns[name] = index
        for name in required:
            if name not in columns:
                errors.append(
                    RowError(
                        number,
                        name,
                        "missing_column",
                        f"缺少必需的列：{aliases[name][0]}",
                        f"missing required column: {aliases[name][0]} ({name})",
                    )
                )
        if not errors:
            return number, columns, []
        first_errors = first_errors or errors
        if number >= HEADER_SEARCH_ROWS:
            break
    return 1, None, first_errors or [RowError(1, "", "empty_file", "文件为空", "the file is empty")]


def _records(
    table: Iterable[Sequence[object]],
    aliases: dict[str, tuple[str, ...]],
    required: Sequence[str],
    parsed: Parsed[Any],
) -> Iterator[tuple[int, dict[str, str | None]]]:
    rows = iter(table)
    header_row, columns, errors = _find_header(rows, aliases, required)
    if columns is None:
        parsed.errors.extend(errors)
        return
    for number, row in enumerate(rows, start=header_row + 1):
        cells = {name: clean(row[i]) if i < len(row) else None for name, i in columns.items()}
        if not any(cells.values()):
            continue
        parsed.rows_total += 1
        if parsed.rows_total > MAX_ROWS:
            parsed.errors.append(
                RowError(
                    number,
                    "",
                    "too_many_rows",
                    f"文件超过 {MAX_ROWS} 行，请分批导入",
                    f"the file has more than {MAX_ROWS} rows; import it in parts",
                )
            )
            return
        yield number, cells


def _mobile(number: int, text: str | None, errors: list[RowError]) -> str | None:
    if not text:
        return None
    digits = re.sub(r"[\s\-()]", "", text)
    digits = digits.removeprefix("+86").removeprefix("0086")
    if not _MOBILE.match(digits):
        errors.append(
            RowError(
                number,
                "mobile",
                "invalid_mobile",
                "手机号格式不正确（应为 11 位手机号）",
                "mobile number is malformed (11 digits expected)",
            )
        )
        return None
    return digits


def _email(number: int, text: str | None, errors: list[RowError]) -> str | None:
    if not text:
        return None
    if not _EMAIL.match(text):
        errors.append(
            RowError(
                number, "email", "invalid_email", "邮箱格式不正确", "email address is malformed"
            )
        )
        return None
    return text


def _account(number: int, field_name: str, text: str | None, errors: list[RowError]) -> str | None:
    if not text:
        return None
    if not _ACCOUNT.match(text):
        errors.append(
            RowError(
                number,
                field_name,
                "invalid_account",
                "账号格式不正确（字母、数字、._@-，最多 64 个字符）",
                "account id is malformed (letters, digits, ._@-, at most 64 characters)",
            )
        )
        return None
    return text


def _language(number: int, text: str | None, errors: list[RowError]) -> Language:
    if not text:
        return "zh-CN"
    language = LANGUAGE_NAMES.get(text.lower())
    if language is None:
        errors.append(
            RowError(
                number,
                "language",
                "unknown_language",
                f"语言无法识别：{text}（中文或英文）",
                f"language not recognised: {text} (zh-CN or en)",
            )
        )
        return "zh-CN"
    return language


def parse_staff_contacts(table: Iterable[Sequence[object]]) -> Parsed[StaffRow]:
    """Staff contacts (and the `值班` on-duty row) from a table whose header names the columns."""
    parsed: Parsed[StaffRow] = Parsed()
    first_row: dict[str | None, int] = {}
    for number, cells in _records(table, STAFF_HEADERS, STAFF_REQUIRED, parsed):
        row, errors = _staff_row(number, cells)
        if row is not None and row.number in first_row:
            who = row.number or "值班"
            errors.append(
                RowError(
                    number,
                    "number",
                    "duplicate_person",
                    f"{who} 与第 {first_row[row.number]} 行重复",
                    f"{who} repeats row {first_row[row.number]}",
                )
            )
        if errors:
            parsed.errors.extend(errors)
        elif row is not None:
            first_row[row.number] = number
            parsed.rows.append(row)
    return parsed


def _staff_row(number: int, cells: dict[str, str | None]) -> tuple[StaffRow | None, list[RowError]]:
    errors: list[RowError] = []
    raw = cells.get("number")
    staff_no: str | None = None
    if not raw:
        errors.append(
            RowError(
                number, "number", "required", "缺少工号/学号", "staff or student number is missing"
            )
        )
    elif raw.lower() not in ON_DUTY_NUMBERS:
        if _NUMBER.match(raw):
            staff_no = raw
        else:
            errors.append(
                RowError(
                    number,
                    "number",
                    "invalid",
                    "工号/学号格式不正确",
                    "staff or student number is malformed",
                )
            )
    mobile = _mobile(number, cells.get("mobile"), errors)
    email = _email(number, cells.get("email"), errors)
    wecom = _account(number, "wecom", cells.get("wecom"), errors)
    dingtalk = _account(number, "dingtalk", cells.get("dingtalk"), errors)
    preferred: Channel | None = None
    if cells.get("preferred"):
        text = cells["preferred"] or ""
        preferred = CHANNEL_NAMES.get(text) or CHANNEL_NAMES.get(text.lower())
        if preferred is None:
            errors.append(
                RowError(
                    number,
                    "preferred",
                    "unknown_channel",
                    f"首选渠道无法识别：{text}（企业微信、钉钉、短信或邮件）",
                    f"preferred channel not recognised: {text} (wecom, dingtalk, sms or email)",
                )
            )
    quiet: QuietHours | None = None
    try:
        quiet = parse_quiet_hours(cells.get("quiet_hours"))
    except ValueError:
        errors.append(
            RowError(
                number,
                "quiet_hours",
                "invalid_quiet_hours",
                f"免打扰时段无法识别：{cells.get('quiet_hours')}（如 23:00-07:00）",
                f"quiet hours not understood: {cells.get('quiet_hours')} (e.g. 23:00-07:00)",
            )
        )
    language = _language(number, cells.get("language"), errors)
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
    parsed: Parsed[FamilyRow] = Parsed()
    ranks: dict[str, int] = {}
    seen: dict[tuple[str, str, str], int] = {}
    for number, cells in _records(table, FAMILY_HEADERS, FAMILY_REQUIRED, parsed):
        errors: list[RowError] = []
        student_no = cells.get("student_no")
        if not student_no:
            errors.append(
                RowError(number, "student_no", "required", "缺少学号", "student number is missing")
            )
        elif not _NUMBER.match(student_no):
            errors.append(
                RowError(
                    number, "student_no", "invalid", "学号格式不正确", "student number is malformed"
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
        mobile = _mobile(number, cells.get("mobile"), errors)
        email = _email(number, cells.get("email"), errors)
        language = _language(number, cells.get("language"), errors)
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
        if not errors and student_no and relation and name:
            key = (student_no, relation, name)
            if key in seen:
                errors.append(
                    RowError(
                        number,
                        "name",
                        "duplicate_contact",
                        f"与第 {seen[key]} 行重复",
                        f"repeats row {seen[key]}",
                    )
                )
            else:
                seen[key] = number
        if errors or not student_no or not relation or not name:
            parsed.errors.extend(errors)
            continue
        rank = ranks.get(student_no, 0)
        ranks[student_no] = rank + 1
        parsed.rows.append(
            FamilyRow(number, student_no, relation, name, mobile, email, language, rank)
        )
    return parsed
