"""The local sinks `make up` gives notify keep every message where a person can read it."""

from __future__ import annotations

import json
import smtplib
import urllib.request
from email.message import EmailMessage
from pathlib import Path

from shouwang_devstack.sinks import LocalSinks


def test_mail_becomes_eml_files_and_requests_json_lines(tmp_path: Path) -> None:
    sinks = LocalSinks(tmp_path).start()
    try:
        message = EmailMessage()
        message["Subject"] = "【守望】重度预警"
        message["From"] = "noreply@shouwang.local"
        message["To"] = "t1001@example.com"
        message.set_content("请确认")
        with smtplib.SMTP("127.0.0.1", sinks.smtp_port, timeout=10) as smtp:
            smtp.send_message(message)
        request = urllib.request.Request(  # noqa: S310 - loopback
            f"{sinks.http_url}/cgi-bin/webhook/send?key=local-sink",
            data=json.dumps({"msgtype": "text", "text": {"content": "预警"}}).encode(),
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            assert json.loads(response.read()) == {"errcode": 0, "errmsg": "ok"}
        env = sinks.notify_env()
    finally:
        sinks.stop()
    (eml,) = (tmp_path / "mail").glob("*.eml")
    assert "t1001@example.com" in eml.read_text(encoding="utf-8")
    (line,) = (tmp_path / "webhooks" / "wecom.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["body"]["text"]["content"] == "预警"
    assert env["NOTIFY_SMTP_PORT"] == str(sinks.smtp_port)
    assert env["NOTIFY_WECOM_API_BASE"] == sinks.http_url
