"""Email on kept-open SMTP connections, against a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio

import pytest
from notify_receivers import SmtpSink, until
from shouwang_contracts.events.notify import NotificationChannel as Channel
from shouwang_devstack._proc import free_port
from shouwang_notify.adapters.channels import ChannelFailure, Outgoing
from shouwang_notify.adapters.smtp import SmtpEmail, SmtpSettings


def email(to: str = "t4001@example.com", subject: str = "【守望】重度预警") -> Outgoing:
    return Outgoing(Channel.EMAIL, to, subject, "请在 2 小时内确认：https://x/ack/t", "短信")


def sender(sink: SmtpSink, connections: int = 2) -> SmtpEmail:
    settings = SmtpSettings("127.0.0.1", sink.port, "noreply@shouwang.local", security="insecure")
    return SmtpEmail(settings, timeout=5.0, connections=connections)


async def test_messages_share_a_kept_open_connection(smtp_sink: SmtpSink) -> None:
    mailer = sender(smtp_sink)
    for n in range(3):
        await mailer.send(email(subject=f"第 {n} 封"))
    assert [m.subject for m in smtp_sink.messages] == ["第 0 封", "第 1 封", "第 2 封"]
    assert smtp_sink.messages[0].text.strip() == "请在 2 小时内确认：https://x/ack/t"
    assert smtp_sink.greetings == 1  # one connection, one EHLO, three messages
    await mailer.close()


async def test_concurrent_messages_open_at_most_the_connections_allowed(
    smtp_sink: SmtpSink,
) -> None:
    mailer = sender(smtp_sink, connections=2)
    await asyncio.gather(*(mailer.send(email(to=f"p{n}@example.com")) for n in range(8)))
    assert len(smtp_sink.messages) == 8
    assert smtp_sink.greetings == 2
    await mailer.close()


async def test_a_connection_the_server_closed_is_replaced() -> None:
    sink = SmtpSink(free_port(), idle_timeout=0.3).start()
    try:
        mailer = sender(sink)
        await mailer.send(email())
        # The server hangs up on the idle connection; the next message opens a new one.
        await until(lambda: mailer.idle_connections == 0, what="the server to close it")
        await mailer.send(email())
        assert len(sink.messages) == 2
        assert sink.greetings == 2
        await mailer.close()
    finally:
        sink.stop()


@pytest.mark.parametrize(
    ("reply", "code", "permanent"),
    [
        ("451 4.3.0 try again later", "smtp_451", False),
        ("550 5.1.1 mailbox unavailable", "smtp_550", True),
    ],
)
async def test_refusals_keep_their_meaning_and_the_connection(
    smtp_sink: SmtpSink, reply: str, code: str, permanent: bool
) -> None:
    mailer = sender(smtp_sink)
    smtp_sink.fail_next(1, reply)
    with pytest.raises(ChannelFailure) as failure:
        await mailer.send(email())
    assert (failure.value.code, failure.value.permanent) == (code, permanent)
    assert "t4001@example.com" not in str(failure.value)
    await mailer.send(email())  # the refusal reset the transaction; the connection goes on
    assert len(smtp_sink.messages) == 1
    assert smtp_sink.greetings == 1
    await mailer.close()
