"""The local sinks `make up` gives notify keep every message where a person can read it."""

from __future__ import annotations

import http.client
import json
import smtplib
import urllib.request
from email.message import EmailMessage
from pathlib import Path

import pytest
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


def _send_mail(port: int, body: str) -> None:
    message = EmailMessage()
    message["Subject"] = "【守望】危急预警"
    message["From"] = "noreply@shouwang.local"
    message["To"] = "t1001@example.com"
    message.set_content(body)
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(message)


def _post(url: str, body: object) -> int:
    request = urllib.request.Request(  # noqa: S310 - loopback
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        return int(response.status)


def test_another_process_reads_only_what_arrived_after_its_mark(tmp_path: Path) -> None:
    # `make demo` reads, from its own process, the folder the sinks of `make up` write.
    with LocalSinks(tmp_path) as running:
        _send_mail(running.smtp_port, "上学期的消息")
        _post(f"{running.http_url}/sms", {"text": "上学期"})
        reader = LocalSinks(tmp_path)
        reader.mark()
        _send_mail(running.smtp_port, "请确认 https://shouwang.test/ack/abc")
        _post(f"{running.http_url}/robot/send?access_token=x", {"text": {"content": "预警"}})
    received = reader.messages()
    assert [channel for channel, _ in received] == ["email", "dingtalk"]
    assert "【守望】危急预警" in received[0][1]
    assert "/ack/abc" in received[0][1]
    assert json.loads(received[1][1]) == {"text": {"content": "预警"}}


def test_a_counting_sink_keeps_nothing_and_sees_each_message_as_the_reader_would(
    tmp_path: Path,
) -> None:
    seen: list[tuple[str, str]] = []
    with LocalSinks(None, on_message=lambda channel, text: seen.append((channel, text))) as sink:
        _send_mail(sink.smtp_port, "请确认 https://shouwang.test/ack/abc")
        _post(f"{sink.http_url}/cgi-bin/webhook/send?key=k", {"text": {"content": "预警"}})
    with LocalSinks(tmp_path, on_message=lambda channel, text: None) as kept:
        reader = LocalSinks(tmp_path)
        reader.mark()
        _send_mail(kept.smtp_port, "请确认 https://shouwang.test/ack/abc")
        _post(f"{kept.http_url}/cgi-bin/webhook/send?key=k", {"text": {"content": "预警"}})
    assert [channel for channel, _ in seen] == ["email", "wecom"]
    assert seen == reader.messages()
    with pytest.raises(ValueError, match="keep no messages"):
        sink.messages()


def test_an_oversized_request_is_refused_and_not_kept(tmp_path: Path) -> None:
    with LocalSinks(tmp_path) as sinks:
        connection = http.client.HTTPConnection("127.0.0.1", sinks.http_port, timeout=10)
        connection.putrequest("POST", "/sms")
        connection.putheader("content-length", str(2 * 1024 * 1024))
        connection.endheaders()  # the body never comes: the answer must not wait for it
        answer = connection.getresponse()
        connection.close()
    assert answer.status == 413
    assert not (tmp_path / "webhooks" / "sms.jsonl").exists()
