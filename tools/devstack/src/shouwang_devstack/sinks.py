"""Local sinks for notify's channels, so `make up` shows every message without a real gateway.

- An SMTP server (aiosmtpd) that stores each message as an `.eml` file under `<data>/mail/`.
- An HTTP server for the WeCom and DingTalk robots, the SMS gateway and webhooks that appends
  each request as one JSON line to `<data>/webhooks/<channel>.jsonl` and answers as the real
  ones do (`{"errcode": 0}`).
Both run in threads of the `up` process, on free loopback ports, and stop with it.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
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


class _MailFolder:
    """aiosmtpd handler: every accepted message becomes `<folder>/<time>-<id>.eml`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        data = content if isinstance(content, bytes) else content.encode()
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}.eml"
        (self.folder / name).write_bytes(data)
        return "250 OK"


class _HttpServer(ThreadingHTTPServer):
    # The default backlog of 5 overflows when notify's lanes connect at once (dozens of sends
    # in flight): the kernel drops the SYNs and the sender waits out a retransmission, a
    # second or more, as if notify were slow.
    request_queue_size = 512
    daemon_threads = True


@dataclass
class LocalSinks:
    """The running sinks and where they keep what they receive."""

    data: Path
    smtp_port: int = 0
    http_port: int = 0
    _smtp: Controller | None = None
    _http: _HttpServer | None = None

    @property
    def mail_dir(self) -> Path:
        return self.data / "mail"

    @property
    def webhooks_dir(self) -> Path:
        return self.data / "webhooks"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> LocalSinks:
        self.mail_dir.mkdir(parents=True, exist_ok=True)
        self.webhooks_dir.mkdir(parents=True, exist_ok=True)
        self.smtp_port = self.smtp_port or free_port()
        self._smtp = Controller(
            _MailFolder(self.mail_dir), hostname="127.0.0.1", port=self.smtp_port
        )
        self._smtp.start()
        self._http = _HttpServer(("127.0.0.1", self.http_port), _handler(self.webhooks_dir))
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


def _handler(folder: Path) -> type[BaseHTTPRequestHandler]:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        # Kept-alive connections, as the gateways and duty systems notify talks to keep them
        # (every answer has a content-length), without Nagle: the headers and the body go out
        # in two writes, and on a kept-alive connection the body would wait for the client's
        # delayed ACK of the headers (40 ms a request).
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            length = min(int(self.headers.get("content-length", "0") or 0), 1024 * 1024)
            raw = self.rfile.read(length)
            parts = urlsplit(self.path)
            channel = _CHANNELS.get(parts.path, "other")
            try:
                body: Any = json.loads(raw or b"null")
            except ValueError:
                body = raw.decode(errors="replace")
            line = {
                "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "path": parts.path,
                "query": {k: v[0] for k, v in parse_qs(parts.query).items()},
                "body": body,
            }
            with lock, (folder / f"{channel}.jsonl").open("a", encoding="utf-8") as out:
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
            answer = b'{"errcode": 0, "errmsg": "ok"}'
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    return Handler
