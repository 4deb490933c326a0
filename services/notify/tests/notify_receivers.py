"""Real local receivers for the channels: an SMTP server (aiosmtpd) and an HTTP server.

Both run in threads of their own, so a test's event loop (or a notify subprocess) talks to
them over real sockets. Each can be told to fail its next N requests, to show retries.
"""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class Mail:
    to: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain", "html"))
        assert part is not None
        return str(part.get_content())


class SmtpSink:
    """An SMTP server that keeps what it accepts; `fail_next(n)` answers 451 (or `reply`)
    n times; after `hold()`, messages wait at DATA (`held` counts them) until `release()`.
    `idle_timeout` closes a connection that sends nothing for that long, as servers do."""

    def __init__(self, port: int, delay: float = 0.0, idle_timeout: float = 300.0) -> None:
        self.messages: list[Mail] = []
        self.failures = 0
        self.reply = "451 4.3.0 try again later"
        self.delay = delay
        self.held = 0
        self._released = threading.Event()
        self._released.set()
        # Seconds to hold the next EHLO: the client is connected and has sent nothing yet.
        self.hold_greeting = 0.0
        self.greetings = 0
        self._lock = threading.Lock()
        self._controller = Controller(self, hostname="127.0.0.1", port=port, timeout=idle_timeout)

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller._thread is not None:
            self._controller.stop()

    @property
    def port(self) -> int:
        return int(self._controller.port)

    def hold(self) -> None:
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    def fail_next(self, times: int, reply: str = "451 4.3.0 try again later") -> None:
        self.failures, self.reply = times, reply

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        self.greetings += 1
        hold, self.hold_greeting = self.hold_greeting, 0.0
        if hold:
            await asyncio.sleep(hold)
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        if not self._released.is_set():
            self.held += 1
            await asyncio.get_running_loop().run_in_executor(None, self._released.wait)
            self.held -= 1
        with self._lock:
            if self.failures > 0:
                self.failures -= 1
                return self.reply
            raw = envelope.original_content or envelope.content
            assert isinstance(raw, bytes)
            message = email.message_from_bytes(raw, policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            self.messages.append(Mail(list(envelope.rcpt_tos), message))
        return "250 OK"

    def to(self, address: str) -> list[Mail]:
        return [m for m in self.messages if address in m.to]


@dataclass
class Request:
    path: str
    query: dict[str, str]
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class HttpSink:
    """An HTTP server for robots, webhooks and the SMS gateway; keeps every accepted request.

    Robots answer `{"errcode": 0}`; `fail_next(n, status)` answers n requests with `status`
    (or, for `errcode`, HTTP 200 with that errcode, as WeCom and DingTalk do).
    `dingtalk_secret` makes it check DingTalk's signature as DingTalk does.
    """

    dingtalk_secret: str | None = None
    requests: list[Request] = field(default_factory=list)
    failures: list[tuple[int, int | None]] = field(default_factory=list)
    delay: float = 0.0
    _server: ThreadingHTTPServer | None = None

    def start(self) -> HttpSink:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                raw = self.rfile.read(length)
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                status, errcode = sink._answer(parts.path, query)
                if sink.delay:
                    time.sleep(sink.delay)
                if status == 200 and errcode == 0:
                    body = json.loads(raw or b"{}")
                    sink.requests.append(Request(parts.path, query, body, dict(self.headers)))
                payload = json.dumps({"errcode": errcode or 0, "errmsg": "ok"}).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def _answer(self, path: str, query: dict[str, str]) -> tuple[int, int]:
        if self.failures:
            status, errcode = self.failures.pop(0)
            return status, errcode or 0
        if path.endswith("/robot/send") and self.dingtalk_secret:
            timestamp, sign = query.get("timestamp", ""), query.get("sign", "")
            digest = hmac.new(
                self.dingtalk_secret.encode(),
                f"{timestamp}\n{self.dingtalk_secret}".encode(),
                hashlib.sha256,
            ).digest()
            if base64.b64encode(digest).decode() != sign:
                return 200, 310000  # DingTalk's "sign not match"
        return 200, 0

    def fail_next(self, times: int, status: int = 500, errcode: int | None = None) -> None:
        self.failures.extend([(status, errcode)] * times)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def at(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll until `condition()` is truthy; generous deadlines, as a busy CI machine needs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def until(
    condition: Callable[[], Any], seconds: float = 60.0, what: str = "condition"
) -> Any:
    """`wait_for` for async tests: polls without blocking the event loop."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
