"""Email over SMTP with aiosmtplib, on connections kept open from one message to the next.

Notify first sent mail through Apprise's `mailto://`, which opens a new connection for every
message and builds a new TLS context each time (loading the system's certificate store, even
for a plain local relay): in a burst of 10,000 alerts that was most of notify's CPU, and the
mail server paid a connection, a greeting and an EHLO per message. Mailers keep a connection
and send message after message on it (RFC 5321 §3.3 lets a client start the next transaction
right after the last); so does this sender, with up to `connections` of them at once.

A connection is reused only while it is healthy: one the server closed (idle timeout) or that
failed mid-transaction is dropped and the next message opens a new one; one idle longer than
`idle_seconds` is closed rather than trusted. The server's refusals keep their meaning: a 4xx
is tried again later, a 5xx (a refused mailbox or sender) is permanent for this channel.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import aiosmtplib
from shouwang_contracts.events.notify import NotificationChannel as Channel

from .channels import ChannelFailure, Outgoing


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    user: str | None = None
    password: str | None = None
    security: str = "starttls"  # starttls | ssl | insecure (a local relay or sink)


class SmtpEmail:
    """Email through the college's SMTP server, on a few connections kept open."""

    channel = Channel.EMAIL

    def __init__(
        self,
        smtp: SmtpSettings,
        *,
        timeout: float = 15.0,
        connections: int = 4,
        idle_seconds: float = 30.0,
    ) -> None:
        self._smtp = smtp
        self._timeout = timeout
        self._idle_seconds = idle_seconds
        self._slots = asyncio.Semaphore(max(connections, 1))
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []  # newest last
        # One TLS context for every connection: building one reads the certificate store.
        self._tls = ssl.create_default_context() if smtp.security != "insecure" else None
        self._domain = smtp.sender.rpartition("@")[2] or "shouwang.local"

    def compose(self, message: Outgoing) -> EmailMessage:
        """The message as mail: plain UTF-8 text, with a date and an id of our domain. An
        address the To header would read as anything but itself, alone (`a,b@evil.example`
        is two mailboxes), is a permanent failure: the contacts' check came later than some
        addresses, and a person's alerts must never be copied to a second mailbox."""
        mail = EmailMessage()
        mail["From"] = self._smtp.sender
        try:
            mail["To"] = message.address
            mailboxes = [a.addr_spec for a in mail["To"].addresses]
        except (ValueError, IndexError, TypeError):
            mailboxes = []
        if mailboxes != [message.address]:
            raise ChannelFailure("bad_address", permanent=True)
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = make_msgid(domain=self._domain)
        mail.set_content(message.body)
        return mail

    async def send(self, message: Outgoing) -> None:
        mail = self.compose(message)
        async with self._slots:
            client = await self._connection()
            try:
                await client.send_message(mail, timeout=self._timeout)
            except aiosmtplib.SMTPResponseException as exc:
                # The server answered (and aiosmtplib reset the transaction): the connection
                # is fine for the next message.
                self._keep(client)
                raise ChannelFailure(f"smtp_{exc.code}", permanent=exc.code >= 500) from None
            except aiosmtplib.SMTPRecipientsRefused as exc:
                self._keep(client)
                codes = [refusal.code for refusal in exc.recipients]
                raise ChannelFailure(
                    f"smtp_{codes[0] if codes else 550}", permanent=all(c >= 500 for c in codes)
                ) from None
            except BaseException as exc:
                client.close()
                if isinstance(exc, Exception):
                    raise _failure(exc) from None
                raise
            self._keep(client)

    @property
    def idle_connections(self) -> int:
        """Connections open and waiting for the next message."""
        return sum(1 for client, _ in self._idle if client.is_connected)

    async def close(self) -> None:
        """Say goodbye on every idle connection (at shutdown)."""
        idle, self._idle = self._idle, []
        for client, _ in idle:
            try:
                await asyncio.wait_for(client.quit(), timeout=2.0)
            except Exception:
                client.close()

    def _keep(self, client: aiosmtplib.SMTP) -> None:
        if client.is_connected:
            self._idle.append((client, time.monotonic()))

    async def _connection(self) -> aiosmtplib.SMTP:
        """The most recently used healthy connection, or a new one."""
        while self._idle:
            client, since = self._idle.pop()
            if client.is_connected and time.monotonic() - since < self._idle_seconds:
                return client
            client.close()
        smtp = self._smtp
        client = aiosmtplib.SMTP(
            hostname=smtp.host,
            port=smtp.port,
            username=smtp.user,
            password=smtp.password,
            timeout=self._timeout,
            use_tls=smtp.security == "ssl",
            start_tls=smtp.security == "starttls",
            tls_context=self._tls,
            local_hostname=self._domain,
        )
        try:
            await client.connect()
        except Exception as exc:
            client.close()
            raise _failure(exc) from None
        return client


def _failure(exc: Exception) -> ChannelFailure:
    """A failure without the server's text (it may name the recipient)."""
    if isinstance(exc, ChannelFailure):
        return exc
    if isinstance(exc, TimeoutError | aiosmtplib.SMTPTimeoutError):
        return ChannelFailure("timeout")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return ChannelFailure(f"smtp_{exc.code}", permanent=exc.code >= 500)
    if isinstance(exc, OSError | aiosmtplib.SMTPException):
        return ChannelFailure("unreachable")
    return ChannelFailure("refused")
