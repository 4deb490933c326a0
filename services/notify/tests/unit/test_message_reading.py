"""Notify's messages read as their recipients read them, at 2 a.m. (walk of 2026-12-07, late):
the deadline at midnight, a bundle of one, the on-duty line's bundle, a rung nobody holds,
no English or ids left in a zh-CN message.
"""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from shouwang_notify.adapters.templates import Templates
from shouwang_notify.domain.routing import Template

DESK = "https://xinli.example-university.edu.cn/desk"
TEMPLATES = Templates(ZoneInfo("Asia/Shanghai"), DESK)
#: 00:00 on 8 December in Shanghai.
MIDNIGHT = "2026-12-07T16:00:00+00:00"
ALERT: dict[str, Any] = {
    "severity": "critical",
    "role": "residence_counselor",
    "owner_role": "residence_counselor",
    "deadline": MIDNIGHT,
    "escalated": False,
    "re_alert": False,
    "attempt": 0,
    "incomplete": False,
    "follow_ups": [],
    "external": ["campus_security", "emergency_services"],
    "link": "https://xinli.example-university.edu.cn/ack/TOKEN",
    "short_link": "https://xl.uni.edu.cn/ack/s/ABCDE23456",
    "on_duty_phone": None,
}


def burst(role: str | None, *items: dict[str, Any]) -> dict[str, Any]:
    grades: dict[str, int] = {}
    for item in items:
        grades[item["severity"]] = grades.get(item["severity"], 0) + 1
    return {
        "role": role,
        "count": len(items),
        "grades": [{"severity": s, "count": n} for s, n in grades.items()],
        "items": [{"alert_id": f"a{n}b2c3d4e5", **item} for n, item in enumerate(items)],
    }


def test_a_deadline_at_midnight_is_the_end_of_the_day_before() -> None:
    """A critical alert raised at 23:45 on 7 December is due at 00:00. "12月8日 00:00前",
    read at 23:50 on the 7th, was taken for the night after: a day late. Notices write the
    end of a day as 24:00 of that day."""
    zh = TEMPLATES.message(Template.ALERT, "zh-CN", ALERT)
    assert "请于 12月7日 24:00 前确认" in zh.subject
    assert "7日24:00前确认" in zh.short
    assert "8日" not in zh.subject + zh.body + zh.short
    en = TEMPLATES.message(Template.ALERT, "en", ALERT)
    assert "confirm by 07 Dec 24:00" in en.subject
    # A minute later is the next day's, as before.
    later = TEMPLATES.message(Template.ALERT, "zh-CN", {**ALERT, "deadline": "2026-12-07T16:01Z"})
    assert "请于 12月8日 00:01 前确认" in later.subject


@pytest.mark.parametrize("language", ["zh-CN", "en"])
@pytest.mark.parametrize(
    "template", [Template.ALERTS_BURST, Template.ALERTS_INFORMED, Template.DIGEST]
)
def test_a_bundle_of_one_speaks_of_one(template: Template, language: str) -> None:
    """A burst's bundle often holds one alert (the second of a window): it read "1 more
    alerts ... were raised ... confirm each one", and in zh-CN "另有1条预警均在处置中"."""
    role = "college_leader" if template is Template.ALERTS_INFORMED else "counseling_center"
    context = burst(role, {**ALERT, "severity": "severe"})
    message = TEMPLATES.message(template, language, context)  # type: ignore[arg-type]
    text = "\n".join((message.subject, message.body, message.short))
    if language == "en":
        for plural in ("1 more alerts", "alerts were", "see them", "each one", "act on each"):
            assert plural not in text, plural
        assert "1 more alert" in text or "1 mild alert" in text
    else:
        for many in ("均", "逐条", "各自"):
            assert many not in text, many


def test_a_bundle_of_many_still_speaks_of_many() -> None:
    two = burst("counseling_center", ALERT, {**ALERT, "severity": "severe"})
    en = TEMPLATES.message(Template.ALERTS_BURST, "en", two)
    assert "2 more alerts (1 critical, 1 severe): act on each" in en.subject
    assert "2 more alerts for you were raised" in en.body
    zh = TEMPLATES.message(Template.ALERTS_BURST, "zh-CN", two)
    assert zh.subject.endswith("请逐条处置")


@pytest.mark.parametrize(
    ("language", "parties"),
    [("zh-CN", "校园保卫处、紧急救援"), ("en", "campus security, emergency services")],
)
def test_the_on_duty_lines_bundle_names_whom_each_alert_asks_it_to_call(
    language: str, parties: str
) -> None:
    """The duty room's second critical alert of a census came in the bundle, which dropped
    "请同时通知：校园保卫处、紧急救援（报警110、急救120）": alone, each alert says whom to
    call. Each line says it again, and the SMS names them ahead of the desk's address, so a
    phone that shows the first segment alone still shows them."""
    duty = burst(None, ALERT, {**ALERT, "severity": "severe", "external": []})
    message = TEMPLATES.message(Template.ALERTS_BURST, language, duty)  # type: ignore[arg-type]
    first, second = message.body.split("\n\n2. ")
    assert parties in first
    assert parties not in second
    assert parties in message.short
    assert message.short.index(parties) < message.short.index(DESK)
    if language == "zh-CN":  # split in two, the first part (67 characters) names them all
        many = burst(None, *[ALERT] * 12, *[{**ALERT, "severity": "severe"}] * 88)
        cut = TEMPLATES.message(Template.ALERTS_BURST, "zh-CN", many).short
        assert "请通知校园保卫处、紧急救援（报警110、急救120）" in cut[:67], cut
    # The owner's bundle asks its reader to confirm, not to call the police.
    owner = burst("counseling_center", ALERT)
    mine = TEMPLATES.message(Template.ALERTS_BURST, language, owner)  # type: ignore[arg-type]
    assert parties not in mine.body + mine.short


@pytest.mark.parametrize("template", [Template.ALERT, Template.ON_DUTY])
def test_a_rung_nobody_holds_says_what_its_role_was_to_do(template: Template) -> None:
    """ "应由二级学院领导，但该生的……": the sentence lacked its verb."""
    context = {**ALERT, "owner_vacant": True, "owner_role": "college_leader"}
    message = TEMPLATES.message(template, "zh-CN", context)
    assert "应由二级学院领导负责，但该生的二级学院领导一级暂无人在册" in message.body


def test_the_digest_counts_the_last_day_not_today() -> None:
    """It goes at the campus's digest hour (08:00) with the last day's alerts, nearly all of
    them raised the day before: "今日新增" was wrong at the hour it was read."""
    context = {"role": "residence_counselor", "items": [{"deadline": MIDNIGHT}]}
    for language in ("zh-CN", "en"):
        message = TEMPLATES.message(Template.DIGEST, language, context)  # type: ignore[arg-type]
        assert "今日" not in message.subject + message.short
        assert "today" not in message.short


#: What a zh-CN message may hold in Latin letters: addresses, an alert's number, a scale.
_LATIN_ALLOWED = re.compile(r"https?://\S+|编号 [0-9a-f]{8}|C-SSRS")


@pytest.mark.parametrize("template", list(Template))
@pytest.mark.parametrize("vacant", [False, True])
def test_no_english_or_id_is_left_in_a_chinese_message(template: Template, vacant: bool) -> None:
    """Every variant a person may get in zh-CN: no English word, no role or party id, no
    "None", no placeholder left unrendered."""
    item = {**ALERT, "owner_vacant": vacant, "stand_in": "counseling_center" if vacant else None}
    contexts: dict[Template, dict[str, Any]] = {
        Template.ALERT: item,
        Template.ALERT_INFORMED: {**item, "role": "college_leader", "link": None},
        Template.ON_DUTY: {**item, "role": None, "re_alert": vacant, "attempt": 4},
        Template.FAMILY: {"on_duty_phone": "0571-88888888" if vacant else None},
        Template.DIGEST: {"role": "residence_counselor", "items": [{"deadline": MIDNIGHT}]},
        Template.CASE_NOTICES: {
            "role": "residence_counselor",
            "items": [
                {"kind": "assigned", "severity": "severe"},
                {"kind": "follow_up_due", "task": "cssrs_screen", "due": MIDNIGHT},
                {"kind": "unowned", "severity": "critical"},
            ],
        },
        Template.ALERTS_INFORMED: burst("college_leader", item, {**item, "escalated": True}),
        Template.ALERTS_BURST: burst(None if vacant else "counseling_center", item, item),
    }
    message = TEMPLATES.message(template, "zh-CN", contexts[template])
    for text in (message.subject, message.body, message.short):
        left = _LATIN_ALLOWED.sub("", text)
        assert not re.search(r"[A-Za-z]{2,}|\{|\}", left), text


@pytest.mark.parametrize("language", ["zh-CN", "en"])
@pytest.mark.parametrize("template", [Template.ALERT, Template.ALERT_INFORMED])
def test_a_message_with_a_link_says_where_to_go_when_the_link_fails(
    template: Template, language: str
) -> None:
    """An e-mail with a confirmation link named no other way in: a link that did not open
    (a mail filter's rewrite, a short host blocked on the campus network) or had expired left
    its reader at 2 a.m. with nothing to try. The body names the desk after the link."""
    message = TEMPLATES.message(template, language, ALERT)  # type: ignore[arg-type]
    link_at = message.body.index(ALERT["link"])
    assert message.body.index(DESK, link_at) > link_at
    assert ("打不开或已失效" if language == "zh-CN" else "does not open or has expired") in (
        message.body
    )
