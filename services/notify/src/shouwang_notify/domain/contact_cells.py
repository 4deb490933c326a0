"""Reading one cell of a contacts file: the mobile, email, account, channel and language
shapes, and a number as Excel may have written it. Each reader appends a `RowError` naming the
row and column in zh-CN and English, and never quotes the cell (a contact refusal does not
echo personal data)."""

from __future__ import annotations

import re

from shouwang_contracts.events.notify import NotificationChannel as Channel
from shouwang_contracts.vocabulary import Language
from shouwang_servicekit.excel_numbers import excel_number
from shouwang_servicekit.rows import RowError, is_email, lookup_name, mobile_number

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

_ACCOUNT = re.compile(r"^[0-9A-Za-z._@\-]{1,64}$")


def excel_text(number: int, field_name: str, label: str, text: str, errors: list[RowError]) -> str:
    """`text` without the `.0` Excel may have added; "" with the row's error (never quoting
    the cell, as no contact refusal does) when Excel wrote it in scientific notation."""
    read = excel_number(number, field_name, label, text, quote=False)
    if isinstance(read, RowError):
        errors.append(read)
        return ""
    return read


def mobile(number: int, text: str | None, errors: list[RowError]) -> str | None:
    if not text or not (text := excel_text(number, "mobile", "手机号", text, errors)):
        return None
    digits = mobile_number(text)
    if digits is None:
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


def email(number: int, text: str | None, errors: list[RowError]) -> str | None:
    if not text:
        return None
    if not is_email(text):
        errors.append(
            RowError(
                number, "email", "invalid_email", "邮箱格式不正确", "email address is malformed"
            )
        )
        return None
    return text


def account(number: int, field_name: str, text: str | None, errors: list[RowError]) -> str | None:
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


def language(number: int, text: str | None, errors: list[RowError]) -> Language:
    if not text:
        return "zh-CN"
    language = lookup_name(LANGUAGE_NAMES, text)
    if language is None:
        errors.append(
            RowError(
                number,
                "language",
                "unknown_language",
                "语言无法识别（应为中文或英文）",
                "language not recognised (zh-CN or en)",
            )
        )
        return "zh-CN"
    return language


def channel(number: int, text: str | None, errors: list[RowError]) -> Channel | None:
    if not text:
        return None
    preferred = lookup_name(CHANNEL_NAMES, text)
    if preferred is None:
        errors.append(
            RowError(
                number,
                "preferred",
                "unknown_channel",
                "首选渠道无法识别（应为企业微信、钉钉、短信或邮件）",
                "preferred channel not recognised (wecom, dingtalk, sms or email)",
            )
        )
    return preferred
