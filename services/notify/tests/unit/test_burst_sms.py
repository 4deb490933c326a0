"""The burst SMS fits one segment with a realistic desk address.

Walk of 2026-12-07: with a college's desk address of about 45 characters the zh-CN burst SMS
ran to 77-79 characters: two segments (a UCS-2 segment holds 70 characters, the 【守望】 sign
included, as `len(message.short)` counts it), twice the cost, and split on some phones.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest
from notify_sms import GSM7, GSM7_EXTENDED, GSM7_SEGMENT, UCS2_SEGMENT, gsm7_length
from shouwang_notify.adapters.templates import Templates
from shouwang_notify.domain.routing import Template

#: A realistic desk address (44 characters); the desk opens on the awaiting list.
DESK = "https://xinli.example-university.edu.cn/desk"
TEMPLATES = Templates(ZoneInfo("Asia/Shanghai"), DESK)


def _burst(role: str | None, critical: int, severe: int) -> dict[str, Any]:
    grades = [
        {"severity": s, "count": n} for s, n in (("critical", critical), ("severe", severe)) if n
    ]
    return {"role": role, "count": critical + severe, "grades": grades, "items": []}


BURSTS = [
    pytest.param("counseling_center", 1, 1, id="owner-2"),
    pytest.param(None, 1, 1, id="on-duty-2"),
    pytest.param(None, 2, 10, id="on-duty-12"),
]


@pytest.mark.parametrize(("role", "critical", "severe"), BURSTS)
def test_the_chinese_burst_sms_is_one_segment_with_a_long_desk_address(
    role: str | None, critical: int, severe: int
) -> None:
    sms = TEMPLATES.message(Template.ALERTS_BURST, "zh-CN", _burst(role, critical, severe)).short
    assert len(sms) <= UCS2_SEGMENT, sms
    assert sms.endswith(f" {DESK}")  # the desk, which opens on the awaiting list
    assert f"{critical + severe}条新预警待处置" in sms
    assert f"危急{critical}、重度{severe}" in sms


@pytest.mark.parametrize(("role", "critical", "severe"), BURSTS)
def test_the_english_burst_sms_is_one_segment_with_a_long_desk_address(
    role: str | None, critical: int, severe: int
) -> None:
    sms = TEMPLATES.message(Template.ALERTS_BURST, "en", _burst(role, critical, severe)).short
    assert set(sms) <= GSM7 | GSM7_EXTENDED, sms  # one character outside: all of it UCS-2
    assert gsm7_length(sms) <= GSM7_SEGMENT, sms
    assert sms.endswith(f": {DESK}")
    assert (
        f"{critical + severe} more alerts to act on ({critical} critical, {severe} severe)" in sms
    )


def test_the_burst_sms_without_a_desk_address_asks_to_sign_in() -> None:
    bare = Templates(ZoneInfo("Asia/Shanghai"))
    zh = bare.message(Template.ALERTS_BURST, "zh-CN", _burst("counseling_center", 1, 2)).short
    assert zh == "【守望】3条新预警待处置（危急1、重度2），请登录平台查看。"
    en = bare.message(Template.ALERTS_BURST, "en", _burst(None, 0, 2)).short
    assert en == "[Shouwang on duty] 2 more alerts to act on (2 severe). Sign in to see them."
