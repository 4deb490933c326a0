"""What a family receives: a number to call back whatever the campus has on file, and an SMS
signed as the carriers require (`domain/campus_messages.py`, `templates/messages/*/family.txt`).

A family contacted while the on-duty contact had no mobile on file was given nobody to call.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest
from notify_sms import segments
from shouwang_notify.adapters.templates import RenderedMessage, Templates
from shouwang_notify.domain.campus_messages import FamilyMessageSettings, check
from shouwang_notify.domain.routing import Template

TEMPLATES = Templates(ZoneInfo("Asia/Shanghai"), "https://xinli.example-university.edu.cn/desk")
DUTY = "13800000999"
LINE = "0571-88981234"


def family(language: str, **context: Any) -> RenderedMessage:
    """The family message as `queue_family_messages` queues it (nothing set: all None)."""
    values = {"on_duty_phone": None, "counseling_line": None, "sms_signature": None, **context}
    return TEMPLATES.message(Template.FAMILY, language, values)  # type: ignore[arg-type]


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_the_on_duty_mobile_comes_first_then_the_counseling_line(language: str) -> None:
    both = family(language, on_duty_phone=DUTY, counseling_line=LINE)
    assert DUTY in both.short
    assert DUTY in both.body
    assert LINE not in both.short + both.body
    line = family(language, counseling_line=LINE)
    assert LINE in line.short
    assert LINE in line.body
    assert "12356" not in line.short + line.body
    center = "学校心理健康教育与咨询中心 " if language == "zh-CN" else "counseling center at "
    assert center + LINE in line.body


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_a_family_with_no_school_number_to_call_gets_the_national_hotline(
    language: str,
) -> None:
    message = family(language)
    assert "12356" in message.short
    assert "12356" in message.body
    assert "110" in message.body
    assert "120" in message.body
    if language == "zh-CN":
        assert "全国心理援助热线12356" in message.short
        assert "全国心理援助热线 12356" in message.body
    else:
        assert "national hotline 12356" in message.short


def test_the_sms_is_signed_with_the_campus_signature_or_the_default() -> None:
    assert family("zh-CN").short.startswith("【学校心理中心】家长您好")
    assert family("en").short.startswith("[Counseling center] ")
    signed = FamilyMessageSettings(sms_signature="浙江某大学心理中心")
    for language in ("zh-CN", "en"):
        short = family(language, sms_signature=signed.sms_signature).short
        assert short.startswith("【浙江某大学心理中心】"), short
        assert short.count("【") == 1
        assert "学校心理中心】" not in short[1:]
    # The e-mail is not an SMS: its subject keeps the center's name.
    assert family("zh-CN", sms_signature="某大学").subject.startswith("【学校心理健康教育")


@pytest.mark.parametrize("number", [{"on_duty_phone": "0571-8898123412345"}, {}])
def test_the_longest_chinese_family_sms_is_one_segment(number: dict[str, str]) -> None:
    """The longest signature (12) and line (20) the settings take, or the hotline's words."""
    longest = FamilyMessageSettings(
        counseling_line="0" * 4 + "-" + "8" * 15, sms_signature="某" * 12
    )
    assert check(longest) == []
    short = family(
        "zh-CN",
        counseling_line=longest.counseling_line,
        sms_signature=longest.sms_signature,
        **number,
    ).short
    assert segments(short) == 1, (len(short), short)


@pytest.mark.parametrize(
    ("signature", "code"),
    [
        ("守望】【市公安局", "signature_brackets"),
        ("[School]", "signature_brackets"),
        ("某", "signature_length"),
        ("某" * 13, "signature_length"),
        ("心理 中心", "signature_characters"),
        ("心理\n中心", "signature_characters"),
    ],
)
def test_a_signature_that_could_pass_as_another_sender_is_refused(
    signature: str, code: str
) -> None:
    """A bracket inside would close the carrier's 【】 and open a second sender name (a school
    SMS reading 【市公安局】); the carriers register 2 to 12 characters, letters and digits."""
    (error,) = check(FamilyMessageSettings(sms_signature=signature))
    assert (error.field, error.code) == ("sms_signature", code)
    assert error.message
    assert error.message_en


@pytest.mark.parametrize("line", ["12", "88981234 转 12", "+86-571-88981234", "-0571", "1" * 21])
def test_a_counseling_line_a_family_cannot_dial_is_refused(line: str) -> None:
    (error,) = check(FamilyMessageSettings(counseling_line=line))
    assert (error.field, error.code) == ("counseling_line", "invalid_phone")
    assert "0571-88981234" in error.message


def test_unset_settings_and_good_ones_pass() -> None:
    assert check(FamilyMessageSettings()) == []
    assert check(FamilyMessageSettings(LINE, "浙大心理中心")) == []
    assert check(FamilyMessageSettings("12356", "XJTLU")) == []
