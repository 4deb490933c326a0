"""Every SMS notify sends for one alert is one segment, with realistic worst-case values.

Walk of 2026-12-07: with a college's realistic host (https://xinli.example-university.edu.cn,
39 characters) an SMS acknowledgement link (`/ack/s/` and a 10-symbol code) is 56 characters;
the zh-CN alert SMS ran to 86-103 characters and the informed one to 99-110: two UCS-2 segments
(70 characters each, the 【守望】 sign included, as `len()` counts it), twice the cost, and split
or half delivered on some phones, for the message that matters most. With the link on the app's
own host nothing fits: 70 - 56 leaves 14 characters for the sign, the grade, what is asked and
the deadline. So SMS links may go on a short host name of the same gateway
(`NOTIFY_SMS_LINK_BASE_URL`, here 13 characters), and every zh-CN alert SMS is worded to fit
one segment with it; the desk's address (on the app's host, where the reader signs in) stays
44 characters. English is GSM-7 (160 to a segment) and fits on the long host as well.

Each message is composed as the dispatcher composes it: the real link, signed and shortened.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from notify_deliveries import alert_context, alert_delivery
from notify_sms import gsm7_length, is_gsm7, segments
from shouwang_contracts.events.notify import NotificationChannel as Channel
from shouwang_contracts.vocabulary import Language, Role
from shouwang_notify.adapters.links import LinkSigner
from shouwang_notify.adapters.templates import Templates
from shouwang_notify.domain.contacts import StaffContact
from shouwang_notify.domain.links import SHORT_CODE_LENGTH, LinkClaims
from shouwang_notify.domain.routing import Template
from shouwang_notify.service_layer.messages import Addresses, Composer

#: The app's (and the gateway's) realistic public address, and the desk on it (44).
APP = "https://xinli.example-university.edu.cn"
DESK = f"{APP}/desk"
#: A short host name of the same gateway, for SMS links (13 characters).
SMS_HOST = "https://xl.uni.edu.cn"
#: December 10th: the longest month and day the templates render.
SIGNER = LinkSigner(["k" * 32])
LINK_ID = "4b1f0d6e-8a57-4c7e-9a43-3f0c2d1e5a77"
CLAIMS = LinkClaims(LINK_ID, "alert-1", "person-1", "demo", datetime(2026, 12, 10, tzinfo=UTC))
FOUND = Addresses(
    staff={("demo", "person-1"): StaffContact("person-1", mobile="13800000004")},
    links={LINK_ID: (CLAIMS, "W" * SHORT_CODE_LENGTH)},
)


#: The owner with the longest label in an SMS (the counseling center goes by 心理中心 there).
LONGEST_IN_SMS = Role.COMMUNITY_PSYCH_TEACHER.value


def longest_role(language: Language) -> str:
    """The role of the ladder (tiers 4-6, and the college leader) with the longest label."""
    owners = [r for r in Role if r.tier is not None and r.tier >= 4] + [Role.COLLEGE_LEADER]
    return max(owners, key=lambda r: len(r.label(language))).value


def sms(
    template: Template, language: Language, *, link: bool, sms_host: str | None, **more: Any
) -> str:
    """The SMS of `template` as the dispatcher composes it, the grade critical (危急: the
    severity labels are all two characters; "Critical" is the longest English one)."""
    context = {
        **alert_context(longest_role(language), LONGEST_IN_SMS, LINK_ID if link else None),
        **more,
    }
    delivery = alert_delivery(Channel.SMS, template, context, language, Role.COUNSELING_CENTER)
    templates = Templates(ZoneInfo("Asia/Shanghai"), DESK)
    composer = Composer(templates, SIGNER, APP, sms_base_url=sms_host)
    outgoing = composer.compose(delivery, FOUND)
    assert not isinstance(outgoing, str), outgoing
    return outgoing.short


ROLE = longest_role("zh-CN")


def case(name: str, template: Template, link: bool, words: str, **more: Any) -> Any:
    """A message, whether it carries a link, the words its reader must find, its context."""
    return pytest.param(template, link, more, tuple(words.split()), id=name)


A, INFORMED, DUTY = Template.ALERT, Template.ALERT_INFORMED, Template.ON_DUTY
BOTH = ["campus_security", "emergency_services"]  # the longest labels of who else to tell
CASES = [
    case("alert", A, True, "危急预警 前确认 勿转发"),
    case("alert-escalated", A, True, "已上报 前确认 勿转发", escalated=True, attempt=2),
    case("alert-reminder-9", A, True, "第9次提醒 前确认 勿转发", re_alert=True, attempt=9),
    case("alert-owner-vacant", A, True, "转至您 前确认", owner_vacant=True, escalated=True),
    case("alert-no-link", A, False, "危急预警 前督办"),
    case("alert-no-link-escalated", A, False, "已上报 前督办", escalated=True, attempt=3),
    case("alert-no-link-reminder-9", A, False, "第9次提醒 前督办", re_alert=True, attempt=9),
    case("alert-no-link-owner-vacant", A, False, "转至您 前督办", owner_vacant=True),
    case("informed", INFORMED, True, "知会 社区心理教师处置中 接手 勿转发"),
    case("informed-center", INFORMED, True, "心理中心处置中 接手 勿转发", owner_role=ROLE),
    case("informed-no-link", INFORMED, False, "知会 处置中"),
    case("informed-owner-vacant", INFORMED, True, "已转值班室 接手 勿转发", owner_vacant=True),
    case(
        "informed-owner-vacant-stand-in",
        INFORMED,
        True,
        "已转社区心理教师 接手 勿转发",
        owner_vacant=True,
        stand_in=LONGEST_IN_SMS,
    ),
    case("on-duty", DUTY, False, "危急预警 立即 校园保卫处", external=BOTH),
    case(
        "on-duty-owner-vacant-reminder-9",
        DUTY,
        False,
        "第9次提醒 值班室接手 立即 校园保卫处",
        owner_vacant=True,
        re_alert=True,
        attempt=9,
        external=BOTH,
    ),
    case("family", Template.FAMILY, False, "学校来电", on_duty_phone="0571-88888888"),
]


@pytest.mark.parametrize(("template", "link", "more", "words"), CASES)
def test_the_chinese_sms_of_an_alert_is_one_segment(
    template: Template, link: bool, more: dict[str, Any], words: tuple[str, ...]
) -> None:
    text = sms(template, "zh-CN", link=link, sms_host=SMS_HOST, **more)
    assert segments(text) == 1, (len(text), text)
    for word in words:
        assert word in text, text
    if template is Template.ALERT:
        assert "10日15:00前" in text  # the deadline, compact: the day of the month
    if link:
        assert f"：{SMS_HOST}/ack/s/WWWWWWWWWW 勿转发" in text  # the short host, the real path
    elif template in (Template.ALERT, Template.ALERT_INFORMED):
        assert text.endswith(f"：{DESK}")


@pytest.mark.parametrize(("template", "link", "more", "words"), CASES)
def test_the_english_sms_of_an_alert_is_one_gsm7_segment_even_on_the_apps_long_host(
    template: Template, link: bool, more: dict[str, Any], words: tuple[str, ...]
) -> None:
    text = sms(template, "en", link=link, sms_host=None, **more)
    assert is_gsm7(text), text  # one character outside: all of it UCS-2
    assert segments(text) == 1, (gsm7_length(text), text)
    if template in (Template.ALERT, Template.ALERT_INFORMED):
        assert "10 Dec 15:00" in text  # English keeps the owner's deadline in both
        assert (f"{APP}/ack/s/WWWWWWWWWW" if link else DESK) in text


@pytest.mark.parametrize(
    ("template", "more"),
    [
        pytest.param(Template.ALERT, {}, id="alert"),
        pytest.param(Template.ALERT, {"escalated": True, "attempt": 2}, id="alert-escalated"),
        pytest.param(Template.ALERT_INFORMED, {}, id="informed"),
    ],
)
def test_without_a_short_sms_host_a_chinese_sms_with_a_link_takes_two_segments(
    template: Template, more: dict[str, Any]
) -> None:
    """No wording fits a 56-character link into 70; it is still all there, in two."""
    text = sms(template, "zh-CN", link=True, sms_host=None, **more)
    assert f"：{APP}/ack/s/WWWWWWWWWW 勿转发" in text
    assert segments(text) == 2


def test_the_bundled_sms_of_alerts_is_one_segment_for_a_census() -> None:
    templates = Templates(ZoneInfo("Asia/Shanghai"), DESK)
    for template, context in (
        (Template.ALERTS_INFORMED, {"role": "college_leader", "items": [], "count": 999}),
        (Template.CASE_NOTICES, {"role": ROLE, "items": [], "count": 999}),
        (Template.DIGEST, {"role": ROLE, "items": [], "count": 999}),
    ):
        for language in ("zh-CN", "en"):
            text = templates.message(template, language, context).short
            assert segments(text) == 1, (template, len(text), text)
            assert text.endswith(DESK)
