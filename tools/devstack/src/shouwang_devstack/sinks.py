"""Local sinks for notify's channels, so `make up` shows every message without a real gateway.

- An SMTP server (aiosmtpd) that stores each message as an `.eml` file under `<data>/mail/`.
- An HTTP server for the WeCom and DingTalk robots, the SMS gateway and webhooks that appends
  each request as one JSON line to `<data>/webhooks/<channel>.jsonl` and answers as the real
  ones do (`{"errcode": 0}`).
Both run in threads of the process that starts them, on free loopback ports, and stop with it.

The same class reads the folder back (`mark()`, `messages()`), from any process: `make demo`
reads what the sinks of `make up` received. A benchmark that only counts messages starts
them without a folder and gives `on_message`, which sees each message as it arrives.
"""

from __future__ import annotations

import email
import email.policy
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from ._proc import free_port

# The channel a request belongs to, by the path the sender posts to.
_CHANNELS = {
    "/cgi-bin/webhook/send": "wecom",
    "/robot/send": "dingtalk",
    "/sms": "sms",
    "/webhook": "webhook",
}
# A request body larger than this is refused (413); no channel sends anything near it.
MAX_BODY = 1024 * 1024

#: Called with (channel, text) for each message received: `email` and the mail's subject and
#: text parts, or the HTTP channel and its body as JSON. It runs in a sink's thread.
OnMessage = Callable[[str, str], None]


@dataclass
class LocalSinks:
    """The sinks: `start()` runs them, `stop()` ends them; `messages()` reads what they kept.

    `data` is where they keep every message (None: nowhere, for a caller that only wants
    `on_message`).
    """

    data: Path | None
    smtp_port: int = 0
    http_port: int = 0
    on_message: OnMessage | None = None
    _smtp: Controller | None = None
    _http: ThreadingHTTPServer | None = None
    _mail_seen: set[str] = field(default_factory=set)
    _offsets: dict[str, int] = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        if self.data is None:
            raise ValueError("these sinks keep no messages (data=None)")
        return self.data

    @property
    def mail_dir(self) -> Path:
        return self.folder / "mail"

    @property
    def webhooks_dir(self) -> Path:
        return self.folder / "webhooks"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> Self:
        keep = _Keeper(self.data, self.on_message)
        self.smtp_port = self.smtp_port or free_port()
        self._smtp = Controller(_Mail(keep), hostname="127.0.0.1", port=self.smtp_port)
        self._smtp.start()
        self._http = _Server(("127.0.0.1", self.http_port), _handler(keep))
        self.http_port = int(self._http.server_address[1])
        threading.Thread(target=self._http.serve_forever, name="webhook-sink", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._smtp is not None:
            self._smtp.stop()
            self._smtp = None
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def notify_env(self) -> dict[str, str]:
        """Notify's channel settings pointing at these sinks."""
        return {
            "NOTIFY_SMTP_HOST": "127.0.0.1",
            "NOTIFY_SMTP_PORT": str(self.smtp_port),
            "NOTIFY_SMTP_SECURITY": "insecure",
            "NOTIFY_SMS_URL": f"{self.http_url}/sms",
            "NOTIFY_SMS_TOKEN": "local-sink",
            "NOTIFY_WECOM_ROBOT_KEY": "local-sink",
            "NOTIFY_WECOM_API_BASE": self.http_url,
            "NOTIFY_DINGTALK_ROBOT_TOKEN": "local-sink",
            "NOTIFY_DINGTALK_API_BASE": self.http_url,
            "NOTIFY_ON_DUTY_WEBHOOK_URL": f"{self.http_url}/webhook",
            "NOTIFY_RATE_WECOM": "20",
            "NOTIFY_RATE_DINGTALK": "20",
        }

    # Reading the folder back (any process) ---------------------------------------------------
    def mark(self) -> None:
        """From now on, `messages()` returns only what arrives after this call."""
        self._mail_seen = {p.name for p in self.mail_dir.glob("*.eml")}
        self._offsets = {p.name: p.stat().st_size for p in self.webhooks_dir.glob("*.jsonl")}

    def messages(self) -> list[tuple[str, str]]:
        """(channel, text) of every message kept since `mark()`, as `on_message` saw it."""
        found: list[tuple[str, str]] = []
        for path in sorted(self.mail_dir.glob("*.eml")):
            if path.name not in self._mail_seen:
                found.append(("email", mail_text(path.read_bytes())))
        for path in sorted(self.webhooks_dir.glob("*.jsonl")):
            with path.open("rb") as handle:
                handle.seek(self._offsets.get(path.name, 0))
                for line in handle.read().decode("utf-8", errors="replace").splitlines():
                    if line.strip():
                        found.append((path.stem, _body_text(json.loads(line).get("body"))))
        return found


def mail_text(raw: bytes) -> str:
    """A mail as a person reads it: its subject (decoded), then each text part decoded."""
    message: Message = email.message_from_bytes(raw, policy=email.policy.default)
    parts = [str(message.get("Subject", ""))]
    for part in message.walk():
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                parts.append(payload.decode(part.get_content_charset() or "utf-8", "replace"))
    return "\n".join(parts)


def _body_text(body: Any) -> str:
    return json.dumps(body, ensure_ascii=False)


class _Keeper:
    """Keeps each message in the folder (if any) and tells `on_message` (if any)."""

    def __init__(self, data: Path | None, on_message: OnMessage | None) -> None:
        self.mail_dir: Path | None = None
        self.webhooks_dir: Path | None = None
        if data is not None:
            self.mail_dir, self.webhooks_dir = data / "mail", data / "webhooks"
            self.mail_dir.mkdir(parents=True, exist_ok=True)
            self.webhooks_dir.mkdir(parents=True, exist_ok=True)
        self.on_message = on_message
        self.lock = threading.Lock()

    def mail(self, raw: bytes) -> None:
        if self.mail_dir is not None:
            name = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}.eml"
            (self.mail_dir / name).write_bytes(raw)
        if self.on_message is not None:
            self.on_message("email", mail_text(raw))

    def request(self, path: str, raw: bytes) -> None:
        parts = urlsplit(path)
        channel = _CHANNELS.get(parts.path, "other")
        try:
            body: Any = json.loads(raw or b"null")
        except ValueError:
            body = raw.decode(errors="replace")
        if self.webhooks_dir is not None:
            line = {
                "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "path": parts.path,
                "query": {k: v[0] for k, v in parse_qs(parts.query).items()},
                "body": body,
            }
            with (
                self.lock,
                (self.webhooks_dir / f"{channel}.jsonl").open("a", encoding="utf-8") as out,
            ):
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
        if self.on_message is not None:
            self.on_message(channel, _body_text(body))


class _Mail:
    """aiosmtpd handler: every accepted message goes to the keeper."""

    def __init__(self, keep: _Keeper) -> None:
        self.keep = keep

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        self.keep.mail(content if isinstance(content, bytes) else content.encode())
        return "250 OK"


class _Server(ThreadingHTTPServer):
    # The default backlog of 5 resets connections when dozens of senders connect at once.
    request_queue_size = 512
    daemon_threads = True


def _handler(keep: _Keeper) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # Keep-alive, as the real gateways: senders reuse their connections. Without Nagle:
        # the headers and the body go out in two writes, and on a kept-alive connection the
        # body would wait for the client's delayed ACK of the headers (40 ms a request).
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0") or 0)
            if length > MAX_BODY:
                self.close_connection = True
                self._answer(413, b'{"errcode": 413, "errmsg": "body too large"}')
                return
            keep.request(self.path, self.rfile.read(length))
            self._answer(200, b'{"errcode": 0, "errmsg": "ok"}')

        def _answer(self, status: int, answer: bytes) -> None:
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    return Handler
