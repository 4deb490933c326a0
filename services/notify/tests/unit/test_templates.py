"""Every template renders in both languages, carries the link, and no personal data."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from shouwang_contracts.vocabulary import ExternalParty
from shouwang_notify.adapters.templates import Templates
from shouwang_notify.domain.links import app_page
from shouwang_notify.domain.routing import Template

APP = "https://shouwang.example.edu/desk"
TEMPLATES = Templates(ZoneInfo("Asia/Shanghai"), APP)
ALERT = {
    "severity": "severe",
    "role": "counseling_center",
    "owner_role": "counseling_center",
    "deadline": "2026-12-01T07:00:00+00:00",
    "escalated": False,
    "re_alert": False,
    "attempt": 0,
    "incomplete": False,
    "follow_ups": [{"task": "cssrs_screen", "due": "2026-12-01T16:00:00+00:00"}],
    "external": [],
    "link": "https://shouwang.example.edu/ack/TOKEN",
    "short_link": "https://shouwang.example.edu/ack/s/ABCDE23456",
    "on_duty_phone": None,
}
CONTEXTS = {
    Template.ALERT: ALERT,
    Template.ALERT_INFORMED: {**ALERT, "role": "residence_counselor"},
    Template.ON_DUTY: {**ALERT, "re_alert": True, "attempt": 3, "external": ["campus_security"]},
    Template.FAMILY: {"on_duty_phone": "13800000999"},
    Template.DIGEST: {"role": "residence_counselor", "items": [{"deadline": ALERT["deadline"]}]},
    Template.CASE_NOTICES: {
        "role": "residence_counselor",
        "items": [
            {"kind": "assigned", "severity": "moderate"},
            {"kind": "follow_up_due", "task": "same_day_risk_assessment", "due": ALERT["deadline"]},
        ],
    },
    Template.ALERTS_INFORMED: {
        "role": "college_leader",
        "items": [
            {
                "alert_id": "a1",
                "severity": "critical",
                "owner_role": "counseling_center",
                "deadline": ALERT["deadline"],
                "escalated": False,
            },
            {
                "alert_id": "a2",
                "severity": "severe",
                "owner_role": "counseling_center",
                "deadline": ALERT["deadline"],
                "escalated": True,
            },
        ],
    },
    Template.ALERTS_BURST: {
        "role": None,
        "count": 2,
        "grades": [{"severity": "critical", "count": 1}, {"severity": "severe", "count": 1}],
        "items": [
            {**ALERT, "alert_id": "a1b2c3d4e5", "severity": "critical"},
            {**ALERT, "alert_id": "f6a7b8c9d0", "owner_vacant": True},
        ],
    },
}


@pytest.mark.parametrize("language", ["zh-CN", "en"])
@pytest.mark.parametrize("template", list(Template))
def test_every_template_renders_in_both_languages(template: Template, language: str) -> None:
    message = TEMPLATES.message(template, language, CONTEXTS[template])  # type: ignore[arg-type]
    assert message.subject
    assert message.body
    assert message.short
    assert len(message.short) <= 140  # one or two SMS segments


def test_alert_names_grade_role_deadline_and_link_in_chinese() -> None:
    message = TEMPLATES.message(Template.ALERT, "zh-CN", ALERT)
    assert "重度预警" in message.subject
    assert "12月1日 15:00" in message.subject  # campus time
    assert "心理健康教育与咨询中心" in message.body
    assert ALERT["link"] in message.body
    assert ALERT["short_link"] in message.short


def test_a_follow_up_task_is_named_with_its_due_time() -> None:
    message = TEMPLATES.message(Template.ALERT, "zh-CN", ALERT)
    assert "C-SSRS" in message.body
    assert "另请于 12月1日 24:00 前" in message.body  # midnight: the end of the day before
    notices = TEMPLATES.message(Template.CASE_NOTICES, "en", CONTEXTS[Template.CASE_NOTICES])
    assert "falls due at 01 Dec 15:00" in notices.body


def test_grouped_alerts_name_each_grade_owner_and_deadline_in_words() -> None:
    context = CONTEXTS[Template.ALERTS_INFORMED]
    message = TEMPLATES.message(Template.ALERTS_INFORMED, "zh-CN", context)
    assert "2 条预警" in message.subject
    assert "危急预警，由心理健康教育与咨询中心负责" in message.body
    assert "重度预警（已逐级上报）" in message.body
    assert "12月1日 15:00" in message.body  # campus time
    assert "counseling_center" not in message.body  # ids become words


@pytest.mark.parametrize(
    ("language", "closing"),
    [("zh-CN", "请知悉，并按需配合。"), ("en", "For your information;")],
    ids=["zh-CN", "en"],
)
def test_the_grouped_notice_closes_apart_from_its_list(language: str, closing: str) -> None:
    """A blank line between the list and the closing words, as the digest and the case
    notices have: glued to the last item, they read as part of it."""
    context = CONTEXTS[Template.ALERTS_INFORMED]
    body = TEMPLATES.message(Template.ALERTS_INFORMED, language, context).body  # type: ignore[arg-type]
    before, found, _ = body.partition(f"\n\n{closing}")
    assert found, body
    assert before.splitlines()[-1].startswith("- "), body


def test_an_escalated_alert_blames_the_owner_below_not_the_tier_above() -> None:
    """An alert climbs when its owner, a tier below, did not confirm it: the e-mail said
    "因上一级未在时限内确认" (because the tier *above* did not confirm), pointing the reader at
    the wrong people."""
    message = TEMPLATES.message(Template.ALERT, "zh-CN", {**ALERT, "escalated": True})
    assert "上一级" not in message.body
    assert "因原负责人未在时限内确认，现逐级上报至您" in message.body


@pytest.mark.parametrize(
    ("language", "label"), [("zh-CN", "如由您接手："), ("en", "Take it: ")], ids=["zh-CN", "en"]
)
def test_the_informed_sms_says_what_its_link_is_for(language: str, label: str) -> None:
    """An informed SMS ended in a bare link: read as "open this", it was the link that makes
    the reader the alert's owner."""
    context = {**ALERT, "role": "residence_counselor"}
    message = TEMPLATES.message(Template.ALERT_INFORMED, language, context)  # type: ignore[arg-type]
    assert f"{label}{ALERT['short_link']}" in message.short


def test_an_sms_without_a_link_ends_in_the_desk_and_only_a_link_says_do_not_forward() -> None:
    """The link confirms the alert without a sign-in: "勿转发" goes with it. The desk's
    address asks for a sign-in and the SMS names nobody: the one segment keeps the deadline."""
    context = {**ALERT, "escalated": True, "link": None, "short_link": None}
    no_link = TEMPLATES.message(Template.ALERT, "zh-CN", context).short
    assert no_link == f"【守望】重度预警已上报，1日15:00前督办：{APP}"
    bare = Templates(ZoneInfo("Asia/Shanghai")).message(Template.ALERT, "zh-CN", context)
    assert bare.short == "【守望】重度预警已上报，1日15:00前登录平台督办。"
    linked = TEMPLATES.message(Template.ALERT, "zh-CN", ALERT).short
    assert linked.endswith(f"{ALERT['short_link']} 勿转发")  # a space ends the link for the phone


@pytest.mark.parametrize(
    ("count", "words"), [(1, "1 mild alert was raised"), (3, "3 mild alerts were")]
)
def test_english_counts_agree_with_their_nouns(count: int, words: str) -> None:
    items = [{"deadline": ALERT["deadline"]}] * count
    context = {"role": "residence_counselor", "items": items}
    digest = TEMPLATES.message(Template.DIGEST, "en", context)
    assert words in digest.body
    assert "(s)" not in digest.subject + digest.body + digest.short
    notices = TEMPLATES.message(Template.CASE_NOTICES, "en", {**CONTEXTS[Template.CASE_NOTICES]})
    assert "2 case notices for you" in notices.subject


def test_the_family_message_spells_counseling_as_the_app_does() -> None:
    message = TEMPLATES.message(Template.FAMILY, "en", CONTEXTS[Template.FAMILY])
    assert "Counselling" not in message.subject + message.short
    assert "counselling" not in message.body


@pytest.mark.parametrize("language", ["zh-CN", "en"])
@pytest.mark.parametrize("template", [t for t in Template if t is not Template.FAMILY])
def test_a_message_that_asks_its_reader_to_sign_in_says_where(
    template: Template, language: str
) -> None:
    """The college leader's 2 a.m. e-mail said 请登录守望平台 and nothing else: no address,
    on a phone with no bookmark. Every staff message without an acknowledgement link names
    the web app, in the body and, where a link fits, the SMS."""
    context = {**CONTEXTS[template], "link": None, "short_link": None}
    message = TEMPLATES.message(template, language, context)  # type: ignore[arg-type]
    assert APP in message.body
    if template is not Template.ON_DUTY:
        assert APP in message.short
    assert len(message.short) <= 140
    bare = Templates(ZoneInfo("Asia/Shanghai")).message(template, language, context)  # type: ignore[arg-type]
    for text in (bare.body, bare.short):
        assert "None" not in text


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_a_refused_link_page_leads_on_to_the_app(language: str) -> None:
    """A used or expired link's page said "sign in to Shouwang directly" with no way there."""
    page = TEMPLATES.page(
        "refused",
        language,  # type: ignore[arg-type]
        {"heading": "链接已使用", "explanation": "这个链接已经确认过一次。"},
    )
    assert f'<a class="button" href="{APP}">' in page


def test_english_when_asked() -> None:
    message = TEMPLATES.message(Template.ALERT, "en", ALERT)
    assert message.subject.startswith("[Shouwang] Severe alert")
    assert "01 Dec 15:00" in message.subject


def test_on_duty_message_names_the_parties_to_call() -> None:
    message = TEMPLATES.message(Template.ON_DUTY, "zh-CN", CONTEXTS[Template.ON_DUTY])
    assert "校园保卫处" in message.body
    assert "第 3 次提醒" in message.subject


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_every_external_party_of_the_contract_is_named_in_words(language: str) -> None:
    """The grading policy asks for `emergency_services`: the duty room read the id itself."""
    context = {**CONTEXTS[Template.ON_DUTY], "external": [p.value for p in ExternalParty]}
    message = TEMPLATES.message(Template.ON_DUTY, language, context)  # type: ignore[arg-type]
    for party in ExternalParty:
        assert party.value not in message.body + message.short
        label = party.label(language)  # type: ignore[arg-type]
        # English lists them mid-sentence, uncapitalised.
        assert (label if language == "zh-CN" else label[0].lower() + label[1:]) in message.body


@pytest.mark.parametrize("language", ["zh-CN", "en"])
@pytest.mark.parametrize("escalated", [False, True])
def test_an_alert_for_someone_without_a_link_never_shows_none(
    language: str, escalated: bool
) -> None:
    """A college leader the ladder reaches gets no link (casework lets them acknowledge
    nothing): the e-mail read "确认接手：None". Without a link the message sends them to the
    platform instead, and shows no dangling "confirm:" line."""
    context = {**ALERT, "escalated": escalated, "link": None, "short_link": None}
    for template in (Template.ALERT, Template.ALERT_INFORMED):
        message = TEMPLATES.message(template, language, context)  # type: ignore[arg-type]
        for text in (message.subject, message.body, message.short):
            assert "None" not in text
            assert not text.rstrip().endswith(("：", ":"))
        assert "确认接手：" not in message.body
        assert "Confirm:" not in message.body
    alert = TEMPLATES.message(Template.ALERT, language, context)  # type: ignore[arg-type]
    assert ("登录守望平台" if language == "zh-CN" else "sign in to Shouwang") in alert.body


def test_family_message_says_nothing_of_the_grade() -> None:
    message = TEMPLATES.message(Template.FAMILY, "zh-CN", CONTEXTS[Template.FAMILY])
    assert "预警" not in message.body
    assert "重度" not in message.body
    assert "13800000999" in message.short


def test_pages_are_autoescaped() -> None:
    page = TEMPLATES.page(
        "refused", "zh-CN", {"heading": "<script>x</script>", "explanation": "a & b"}
    )
    assert "<script>x" not in page
    assert "&lt;script&gt;" in page
    assert "a &amp; b" in page


@pytest.mark.parametrize(
    ("language", "says"),
    [
        ("zh-CN", ["您作为社区心理教师负责的一名学生", "由您本人确认接手这名学生的这条预警"]),
        ("en", ["A student you look after as community psychology teacher", "you yourself take"]),
    ],
)
def test_the_ack_page_says_who_confirms_what_for_whom(language: str, says: list[str]) -> None:
    """The link's holder confirms that they take the alert on for a student in their care;
    the page once read as if their role, not they, were asked ("需要社区心理教师在…前确认")."""
    page = TEMPLATES.page(
        "ack",
        language,  # type: ignore[arg-type]
        {
            "severity": "severe",
            "role": "community_psych_teacher",
            "deadline": ALERT["deadline"],
            "overdue": False,
            "action": "/ack/s/ABCDE23456",
        },
    )
    for words in says:
        assert words in page
    assert "需要社区心理教师" not in page
    assert ("重度" if language == "zh-CN" else "severe") in page.lower()


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_the_confirmed_page_links_on_to_the_case_in_the_app(language: str) -> None:
    url = app_page("https://app.example.edu/", "3f0c6a1e-case")
    assert url == "https://app.example.edu/desk/cases/3f0c6a1e-case"
    page = TEMPLATES.page("confirmed", language, {"case_url": url})  # type: ignore[arg-type]
    assert f'href="{url}"' in page
    assert ("打开个案" if language == "zh-CN" else "Open the case") in page


def test_the_app_link_carries_the_case_id_only() -> None:
    assert app_page("https://app.example.edu", None) == "https://app.example.edu/desk"
    assert app_page("https://app.example.edu", "../a?b") == (
        "https://app.example.edu/desk/cases/..%2Fa%3Fb"
    )


VACANT = {**ALERT, "owner_role": "college_leader", "escalated": True, "owner_vacant": True}


@pytest.mark.parametrize(
    ("template", "language", "context", "says"),
    [
        (
            Template.ALERT_INFORMED,
            "zh-CN",
            {**VACANT, "stand_in": None},
            "但该生的二级学院领导一级暂无人在册，现由值班室接手",
        ),
        (
            Template.ALERT_INFORMED,
            "en",
            {**VACANT, "stand_in": None},
            "Nobody holds the college leader role for the student, so the on-duty line has it",
        ),
        (
            Template.ON_DUTY,
            "zh-CN",
            {**VACANT, "stand_in": None},
            "该预警已逐级上报至二级学院领导，但该生的二级学院领导一级暂无人在册，现由值班室接手",
        ),
        (
            Template.ALERT,
            "zh-CN",
            {**VACANT, "owner_role": "community_psych_teacher", "stand_in": "counseling_center"},
            "已逐级上报至社区心理教师，但该生的社区心理教师一级暂无人在册，现转至您处置",
        ),
    ],
)
def test_the_center_is_not_told_an_empty_rung_is_handling_it(
    template: Template, language: str, context: dict[str, object], says: str
) -> None:
    """Demo walk: alerts for the 医学院's students climbed to 二级学院领导, whom nobody holds
    for them, and the center read 二级学院领导处置中. Every message of such an event says the
    rung is empty and who has the alert now, in full and by SMS."""
    message = TEMPLATES.message(template, language, context)  # type: ignore[arg-type]
    assert says in message.body
    for text in (message.subject, message.body, message.short):
        assert "二级学院领导处置中" not in text
        assert "owned by the college leader" not in text
        assert "contact the college leader" not in text.lower()
    assert len(message.short) <= 140


def test_a_grouped_notice_says_which_alert_has_nobody_on_its_rung() -> None:
    item = {**CONTEXTS[Template.ALERTS_INFORMED]["items"][0], "owner_role": "college_leader"}  # type: ignore[index]
    context = {"role": "college_leader", "items": [{**item, "owner_vacant": True}]}
    message = TEMPLATES.message(Template.ALERTS_INFORMED, "zh-CN", context)
    assert "二级学院领导一级无人在册，由值班室接手" in message.body


def test_a_burst_counts_by_grade_and_gives_each_alert_its_own_line_and_link() -> None:
    items = [
        {**ALERT, "alert_id": "a1b2c3d4e5", "link": "https://x/ack/ONE"},
        {**ALERT, "alert_id": "f6a7b8c9d0", "severity": "critical", "link": "https://x/ack/TWO"},
    ]
    context = {
        "role": "counseling_center",
        "count": 2,
        "grades": [{"severity": "critical", "count": 1}, {"severity": "severe", "count": 1}],
        "items": items,
    }
    zh = TEMPLATES.message(Template.ALERTS_BURST, "zh-CN", context)
    assert "又有 2 条预警（危急 1 条、重度 1 条）" in zh.subject
    assert "确认接手：https://x/ack/ONE" in zh.body
    assert "确认接手：https://x/ack/TWO" in zh.body
    # The SMS has room for the count and the desk's list only.
    assert zh.short == f"【守望】2条新预警待处置（危急1、重度1） {APP}"
    en = TEMPLATES.message(Template.ALERTS_BURST, "en", context)
    assert "2 more alerts (1 critical, 1 severe)" in en.subject
    assert "Confirm: https://x/ack/TWO" in en.body
    # The on-duty line has no links: each line carries a short alert number instead.
    duty = TEMPLATES.message(Template.ALERTS_BURST, "zh-CN", {**context, "role": None})
    assert "值班室" in duty.body
    assert (
        "编号 a1b2c3d4"
        in TEMPLATES.message(
            Template.ALERTS_BURST,
            "zh-CN",
            {**context, "role": None, "items": [{**i, "link": None} for i in items]},
        ).body
    )


def test_a_burst_gives_each_alert_its_own_paragraph_with_its_link_below_it() -> None:
    """Walk of 2026-12-07: `trim_blocks` ate the newline before each "确认接手：" and the blank
    line after the greeting, so every link ran on after its deadline and the alerts ran
    together: hard to tell on a phone which link confirms which alert."""
    items = [
        {**ALERT, "alert_id": "a1b2c3d4e5", "link": "https://x/ack/ONE"},
        {**ALERT, "alert_id": "f6a7b8c9d0", "escalated": True, "link": None},
    ]
    context = {
        "role": "counseling_center",
        "count": 2,
        "grades": [{"severity": "severe", "count": 2}],
        "items": items,
    }
    zh = TEMPLATES.message(Template.ALERTS_BURST, "zh-CN", context).body
    assert zh.startswith(
        "您好，心理健康教育与咨询中心：\n\n继上一条预警之后，一分钟内又有 2 条预警"
    )
    assert "\n\n1. 重度预警，确认时限 12月1日 15:00\n   确认接手：https://x/ack/ONE\n\n" in zh
    assert (
        "\n2. 重度预警（已上报至您），确认时限 12月1日 15:00，编号 f6a7b8c9\n\n待处置清单：" in zh
    )
    en = TEMPLATES.message(Template.ALERTS_BURST, "en", context).body
    assert "\n\n1. Severe alert, by 01 Dec 15:00\n   Confirm: https://x/ack/ONE\n\n2. " in en
    # The on-duty line is not told an alert was escalated "to you".
    duty = TEMPLATES.message(Template.ALERTS_BURST, "zh-CN", {**context, "role": None}).body
    assert "（已逐级上报），由心理健康教育与咨询中心确认" in duty
    assert "至您" not in duty


def test_a_burst_sms_without_a_desk_address_asks_once() -> None:
    """No app_url: the SMS read "请逐条处置，请登录平台查看。", two requests in a row."""
    context = {
        "role": "counseling_center",
        "count": 3,
        "grades": [{"severity": "critical", "count": 1}, {"severity": "severe", "count": 2}],
        "items": [{**ALERT, "alert_id": "a1b2c3d4e5"}],
    }
    sms = (
        Templates(ZoneInfo("Asia/Shanghai")).message(Template.ALERTS_BURST, "zh-CN", context).short
    )
    assert sms == "【守望】3条新预警待处置（危急1、重度2），请登录平台查看。"
