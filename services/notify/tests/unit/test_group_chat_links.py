"""An acknowledgement link never goes to a chat a group reads.

Review of 2026-12-07 (night): a WeCom or DingTalk robot posts its message in a group chat and
@-mentions the person; everyone in the group reads it. The alert's message carried the
person's acknowledgement link there, and the link is the credential (no sign-in behind the
gateway): any member of the group could confirm the alert in the owner's name, and the
escalation that confirmation stops would never reach anyone who acts. Chat is the first
channel of a staff member's chain, so most owners' links went there. Now a message on a group
channel carries no link and asks its reader to confirm on the platform (signing in is the
credential there); email and SMS, read by the person alone, keep theirs.

Each message is composed as the dispatcher composes it, from a claimed delivery.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from notify_deliveries import DEADLINE, alert_context, alert_delivery
from shouwang_contracts.events.notify import NotificationChannel as Channel
from shouwang_contracts.vocabulary import Language, Role
from shouwang_notify.adapters.channels import Outgoing
from shouwang_notify.adapters.links import LinkSigner
from shouwang_notify.adapters.templates import Templates
from shouwang_notify.domain.contacts import StaffContact
from shouwang_notify.domain.links import LinkClaims
from shouwang_notify.domain.routing import Template
from shouwang_notify.service_layer.messages import Addresses, Composer

APP = "https://xinli.example-university.edu.cn"
DESK = f"{APP}/desk"
SIGNER = LinkSigner(["k" * 32])
LINK_ID = "4b1f0d6e-8a57-4c7e-9a43-3f0c2d1e5a77"
CODE = "W7K3M9P2QR"
CLAIMS = LinkClaims(LINK_ID, "alert-1", "person-1", "demo", datetime(2026, 12, 10, tzinfo=UTC))
FOUND = Addresses(
    staff={
        ("demo", "person-1"): StaffContact(
            "person-1",
            mobile="13800000004",
            email="t3001@example.com",
            wecom_user="wx_t3001",
            dingtalk_user="dd_t3001",
        )
    },
    links={LINK_ID: (CLAIMS, CODE)},
)
COMPOSER = Composer(Templates(ZoneInfo("Asia/Shanghai"), DESK), SIGNER, APP)
TOKEN = SIGNER.sign(CLAIMS)

_ALERT = alert_context(Role.RESIDENCE_COUNSELOR.value, Role.RESIDENCE_COUNSELOR.value, LINK_ID)
_BURST = {
    "role": Role.RESIDENCE_COUNSELOR.value,
    "grades": [{"severity": "critical", "count": 1}],
    "items": [
        {
            "alert_id": "alert-1",
            "severity": "critical",
            "owner_role": Role.RESIDENCE_COUNSELOR.value,
            "deadline": DEADLINE,
            "escalated": False,
            "re_alert": False,
            "attempt": 0,
            "link_id": LINK_ID,
        }
    ],
}
MESSAGES = [
    pytest.param(Template.ALERT, _ALERT, id="alert"),
    pytest.param(Template.ALERT_INFORMED, _ALERT, id="informed"),
    pytest.param(Template.ALERTS_BURST, _BURST, id="burst"),
]


def compose(
    channel: Channel, template: Template, context: dict[str, Any], language: Language
) -> Outgoing:
    delivery = alert_delivery(channel, template, context, language, Role.RESIDENCE_COUNSELOR)
    outgoing = COMPOSER.compose(delivery, FOUND)
    assert isinstance(outgoing, Outgoing), outgoing
    return outgoing


def _texts(message: Outgoing) -> str:
    return "\n".join((message.subject, message.body, message.short))


@pytest.mark.parametrize("language", ["zh-CN", "en"])
@pytest.mark.parametrize(("template", "context"), MESSAGES)
@pytest.mark.parametrize("channel", [Channel.WECOM, Channel.DINGTALK])
def test_an_ack_link_posted_to_a_group_chat_cannot_be_used_by_its_members(
    channel: Channel, template: Template, context: dict[str, Any], language: Language
) -> None:
    sent = _texts(compose(channel, template, context, language))
    assert "/ack/" not in sent
    assert TOKEN not in sent
    assert CODE not in sent
    assert APP in sent  # where the reader signs in instead


@pytest.mark.parametrize("channel", [Channel.WECOM, Channel.DINGTALK])
def test_an_owner_in_a_group_chat_is_asked_to_confirm_on_the_platform(channel: Channel) -> None:
    zh = compose(channel, Template.ALERT, _ALERT, "zh-CN")
    assert "前确认" in zh.subject
    assert "登录守望平台确认接手" in zh.body
    assert f"登录守望平台：{DESK}" in zh.body
    en = compose(channel, Template.ALERT, _ALERT, "en")
    assert "confirm by" in en.subject
    assert f"Sign in: {DESK}" in en.body
    assert "to confirm you are taking it" in en.body


@pytest.mark.parametrize(("template", "context"), MESSAGES)
@pytest.mark.parametrize("channel", [Channel.EMAIL, Channel.SMS])
def test_a_message_the_person_alone_reads_keeps_its_link(
    channel: Channel, template: Template, context: dict[str, Any]
) -> None:
    message = compose(channel, template, context, "zh-CN")
    if channel is Channel.EMAIL:
        assert f"{APP}/ack/{TOKEN}" in message.body
    elif template is not Template.ALERTS_BURST:  # a burst's SMS names only the desk
        assert f"{APP}/ack/s/{CODE}" in message.short


@pytest.mark.parametrize("template", [Template.ALERT, Template.ALERT_INFORMED])
def test_an_english_readers_link_opens_its_page_in_english(template: Template) -> None:
    """The link's page followed the phone's language: a colleague who reads English, on a
    phone set to Chinese, got the confirmation page in Chinese after an English e-mail."""
    en = compose(Channel.EMAIL, template, _ALERT, "en")
    assert f"{APP}/ack/{TOKEN}?lang=en" in en.body
    zh = compose(Channel.EMAIL, template, _ALERT, "zh-CN")
    assert f"{APP}/ack/{TOKEN}\n" in zh.body  # zh-CN, the default, asks for nothing
