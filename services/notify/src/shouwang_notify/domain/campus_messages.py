"""What a campus's family messages say besides the school's request to talk.

* The counseling center's public line: the number a family is given to call back when the
  on-duty contact has no mobile on file. With neither, the family is given the national
  psychological assistance hotline (12356), the number the platform's emergency screens list
  everywhere (the gateway's campus directory, the web app's fallback numbers).
* The SMS signature: Chinese carriers deliver an SMS only when it carries the sender's
  registered signature in 【】 (the MIIT rules for commercial SMS; each provider's console
  registers it, 2 to 12 characters of Chinese, letters and digits). Unset, family SMS keep
  【学校心理中心】.

The migration (0014) checks the same rules; here a caller gets a specific error per field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shouwang_servicekit.rows import RowError

#: What a family SMS is signed with when the campus registered no signature of its own.
DEFAULT_SMS_SIGNATURE = "学校心理中心"
#: The national psychological assistance hotline (国家卫生健康委, 12356, from 2025-01-01).
NATIONAL_HOTLINE = "12356"

_LINE = re.compile(r"[0-9][0-9-]{2,19}")
#: Every bracket a signature could carry: the carrier wraps it in 【】 itself.
_BRACKETS = frozenset("[]【】［］〖〗〔〕()（）<>《》")
SIGNATURE_LENGTH = (2, 12)


@dataclass(frozen=True, slots=True)
class FamilyMessageSettings:
    counseling_line: str | None = None
    sms_signature: str | None = None


def check(settings: FamilyMessageSettings) -> list[RowError]:
    """Every field of `settings` that breaks a rule, with why in both languages."""
    errors: list[RowError] = []
    line = settings.counseling_line
    if line is not None and not _LINE.fullmatch(line):
        errors.append(
            RowError(
                0,
                "counseling_line",
                "invalid_phone",
                "心理中心对外电话只能由数字和“-”组成，以数字开头，3 至 20 位，如 0571-88981234",
                "The counseling line is 3 to 20 digits and '-', starting with a digit,"
                " e.g. 0571-88981234",
            )
        )
    errors.extend(_signature_errors(settings.sms_signature))
    return errors


def _signature_errors(signature: str | None) -> list[RowError]:
    if signature is None:
        return []
    low, high = SIGNATURE_LENGTH
    if any(c in _BRACKETS for c in signature):
        return [
            RowError(
                0,
                "sms_signature",
                "signature_brackets",
                "短信签名只填签名文字，不含括号：发送时自动加上【】",
                "Give the signature without brackets: 【】 are added when it is sent",
            )
        ]
    if not low <= len(signature) <= high:
        return [
            RowError(
                0,
                "sms_signature",
                "signature_length",
                f"短信签名须为 {low} 至 {high} 个字，与运营商报备的签名一致",
                f"The signature is {low} to {high} characters, as registered with the carriers",
            )
        ]
    if not all(c.isalnum() for c in signature):
        return [
            RowError(
                0,
                "sms_signature",
                "signature_characters",
                "短信签名只能含汉字、字母和数字，与运营商报备的签名一致",
                "The signature holds Chinese characters, letters and digits only, as registered"
                " with the carriers",
            )
        ]
    return []
