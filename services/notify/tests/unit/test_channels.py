"""How each channel reads its server's answer: delivered, retry later, or give up."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from zoneinfo import ZoneInfo

import httpx
import pytest
from shouwang_contracts.events.notify import NotificationChannel as Channel
from shouwang_notify.adapters.channels import (
    WECOM_TEXT_BYTES,
    ChannelFailure,
    DingTalkRobot,
    JsonWebhook,
    Outgoing,
    SmsGateway,
    WeComRobot,
)
from shouwang_notify.adapters.smtp import SmtpEmail, SmtpSettings
from shouwang_notify.adapters.templates import Templates
from shouwang_notify.domain.routing import Template

MESSAGE = Outgoing(Channel.SMS, "13800000001", "主题", "正文", "短信")


def client(
    status: int, body: dict[str, object] | None = None
) -> tuple[httpx.AsyncClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json=body or {"errcode": 0})

    return httpx.AsyncClient(transport=httpx.MockTransport(answer)), seen


@pytest.mark.parametrize(
    ("status", "permanent"), [(429, False), (500, False), (503, False), (400, True), (403, True)]
)
async def test_sms_gateway_statuses(status: int, permanent: bool) -> None:
    http, _ = client(status)
    with pytest.raises(ChannelFailure) as failure:
        await SmsGateway(http, "http://sms/send", "t").send(MESSAGE)
    assert failure.value.permanent is permanent
    assert failure.value.code == f"http_{status}"


async def test_sms_gateway_sends_the_short_text_with_its_token() -> None:
    http, seen = client(200)
    await SmsGateway(http, "http://sms/send", "secret-token").send(MESSAGE)
    (request,) = seen
    assert json.loads(request.content) == {"to": "13800000001", "text": "短信"}
    assert request.headers["authorization"] == "Bearer secret-token"


@pytest.mark.parametrize(("errcode", "permanent"), [(45009, False), (93000, True)])
async def test_wecom_errcodes_are_failures_even_with_http_200(
    errcode: int, permanent: bool
) -> None:
    http, _ = client(200, {"errcode": errcode, "errmsg": "x"})
    with pytest.raises(ChannelFailure) as failure:
        await WeComRobot(http, "http://wecom", "key").send(MESSAGE)
    assert failure.value.permanent is permanent


async def test_wecom_mentions_the_person_under_the_subject() -> None:
    """The group chat read "您好，公寓辅导员：…" with no 【守望】知会：一条重度预警 line, which
    DingTalk's robot gave: the subject now leads on WeCom too."""
    http, seen = client(200)
    await WeComRobot(http, "http://wecom", "key").send(
        Outgoing(Channel.WECOM, "wx_t1001", "【守望】知会：一条重度预警", "正文", "短")
    )
    body = json.loads(seen[0].content)
    assert body["text"] == {
        "content": "【守望】知会：一条重度预警\n正文",
        "mentioned_list": ["wx_t1001"],
    }
    assert seen[0].url.params["key"] == "key"


async def test_dingtalk_signature_is_encoded_once() -> None:
    http, seen = client(200)
    robot = DingTalkRobot(http, "http://ding", "token", "SECsecret")
    await robot.send(Outgoing(Channel.DINGTALK, "13800000002", "s", "b", "x"))
    params = seen[0].url.params  # decoded once, as DingTalk's server decodes the query
    expected = hmac.new(b"SECsecret", f"{params['timestamp']}\nSECsecret".encode(), hashlib.sha256)
    assert params["sign"] == base64.b64encode(expected.digest()).decode()
    assert json.loads(seen[0].content)["at"]["atMobiles"] == ["13800000002"]


async def test_webhook_posts_what_apprise_json_posted_with_basic_auth_from_the_url() -> None:
    http, seen = client(200)
    hook = JsonWebhook(http)
    duty = "https://duty:pa55@duty.example.edu/hooks/shouwang?line=1"
    for _ in range(2):  # the address parsed once, the same request each time
        await hook.send(Outgoing(Channel.WEBHOOK, duty, "【守望】危急预警", "请立即处理", "x"))
    assert len(seen) == 2
    request = seen[1]
    assert str(request.url) == "https://duty.example.edu/hooks/shouwang?line=1"
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"duty:pa55").decode()
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {
        "version": "1.0",
        "title": "【守望】危急预警",
        "message": "请立即处理",
        "attachments": [],
        "type": "info",
    }


@pytest.mark.parametrize("status", [400, 404, 429, 500, 503])
async def test_webhook_refusals_are_retried_never_given_up(status: int) -> None:
    http, _ = client(status)
    with pytest.raises(ChannelFailure) as failure:
        await JsonWebhook(http).send(Outgoing(Channel.WEBHOOK, "http://duty/h", "s", "b", "x"))
    assert (failure.value.code, failure.value.permanent) == ("refused", False)


@pytest.mark.parametrize("address", ["duty.example.edu/h", "ftp://duty.example.edu/h", "http://"])
async def test_webhook_with_a_malformed_address_fails_for_good(address: str) -> None:
    http, seen = client(200)
    with pytest.raises(ChannelFailure) as failure:
        await JsonWebhook(http).send(Outgoing(Channel.WEBHOOK, address, "s", "b", "x"))
    assert (failure.value.code, failure.value.permanent) == ("bad_address", True)
    assert not seen


async def test_webhook_unreachable_or_slow_fails_without_leaking_the_address() -> None:
    def away(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/slow":
            raise httpx.ReadTimeout("timed out", request=request)
        raise httpx.ConnectError("duty.example.edu refused", request=request)

    hook = JsonWebhook(httpx.AsyncClient(transport=httpx.MockTransport(away)))
    for path, code in (("/down", "refused"), ("/slow", "timeout")):
        with pytest.raises(ChannelFailure) as failure:
            await hook.send(
                Outgoing(Channel.WEBHOOK, f"http://duty.example.edu{path}", "s", "b", "x")
            )
        assert (failure.value.code, failure.value.permanent) == (code, False)
        assert "duty.example.edu" not in str(failure.value)


def test_email_is_plain_utf8_text_from_our_domain() -> None:
    sender = SmtpEmail(
        SmtpSettings("smtp.example.edu", 465, "noreply@xg.example.edu", security="ssl")
    )
    mail = sender.compose(
        Outgoing(Channel.EMAIL, "x@y.cn", "【守望】重度预警", "请在 2 小时内确认", "x")
    )
    assert (mail["From"], mail["To"], mail["Subject"]) == (
        "noreply@xg.example.edu",
        "x@y.cn",
        "【守望】重度预警",
    )
    assert mail["Message-ID"].endswith("@xg.example.edu>")
    assert mail.get_content_type() == "text/plain"
    assert mail.get_content().strip() == "请在 2 小时内确认"


@pytest.mark.parametrize(
    "address",
    ["t1001,boss@evil.example", "t1001@uni.edu.cn>,spy@evil.example", "x;y@evil.example"],
)
async def test_an_email_address_that_names_a_second_recipient_is_never_mailed(
    address: str,
) -> None:
    """The threat: an address stored before the import checked it for separators (or typed
    into a contacts file) such as `t1001,boss@evil.example` became a To header of two
    mailboxes, so every alert of that person, its confirming link included, was copied to an
    outsider. Such an address fails for good, and no connection is opened for it."""
    sender = SmtpEmail(SmtpSettings("127.0.0.1", 9, "a@b.cn", security="insecure"), timeout=5)
    with pytest.raises(ChannelFailure) as failure:
        await sender.send(Outgoing(Channel.EMAIL, address, "s", "b", "x"))
    assert (failure.value.code, failure.value.permanent) == ("bad_address", True)
    assert "evil" not in str(failure.value)


async def test_email_to_a_closed_port_fails_without_leaking_the_address() -> None:
    sender = SmtpEmail(SmtpSettings("127.0.0.1", 9, "a@b.cn", security="insecure"), timeout=5)
    with pytest.raises(ChannelFailure) as failure:
        await sender.send(Outgoing(Channel.EMAIL, "x@y.cn", "s", "b", "x"))
    assert "x@y.cn" not in str(failure.value)
    assert failure.value.code == "unreachable"
    assert not failure.value.permanent


async def test_a_wecom_bundle_of_a_census_fits_the_robots_2048_bytes() -> None:
    """WeCom refuses a text over 2048 bytes: a bundle of 30 alerts for the counseling center
    failed five times and went on SMS. Its later lines are cut now; the subject, the first
    lines, the desk's list (which holds them all) and "请勿转发" stay."""
    desk = "https://xinli.example-university.edu.cn/desk"
    item = {
        "alert_id": "a1b2c3d4e5",
        "severity": "severe",
        "owner_role": "counseling_center",
        "deadline": "2026-12-07T16:30:00+00:00",
        "escalated": False,
        "re_alert": False,
        "link": None,
    }
    context = {
        "role": "counseling_center",
        "count": 30,
        "grades": [{"severity": "severe", "count": 30}],
        "items": [item] * 30,
    }
    rendered = Templates(ZoneInfo("Asia/Shanghai"), desk).message(
        Template.ALERTS_BURST, "zh-CN", context
    )
    assert len(f"{rendered.subject}\n{rendered.body}".encode()) > WECOM_TEXT_BYTES
    http, seen = client(200)
    message = Outgoing(Channel.WECOM, "wx_t3001", rendered.subject, rendered.body, "")
    await WeComRobot(http, "http://wecom", "key").send(message)
    content = json.loads(seen[0].content)["text"]["content"]
    assert len(content.encode()) <= WECOM_TEXT_BYTES
    assert content.startswith(rendered.subject)
    assert "1. 重度预警" in content
    assert "\n……\n\n" in content
    assert content.endswith(f"待处置清单：{desk}/awaiting\n\n本消息不含学生身份信息。请勿转发。")
    # A message that fits goes whole.
    short = Outgoing(Channel.WECOM, "wx_t3001", "主题", "正文\n\n本消息不含学生身份信息。", "")
    await WeComRobot(http, "http://wecom", "key").send(short)
    assert (
        json.loads(seen[1].content)["text"]["content"] == "主题\n正文\n\n本消息不含学生身份信息。"
    )
