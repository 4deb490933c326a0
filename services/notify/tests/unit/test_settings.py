"""Notify's own settings: what production refuses."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from shouwang_notify.config import NotifySettings

PRODUCTION = {
    "SHOUWANG_ENV": "production",
    "SHOUWANG_JWKS_URL": "https://idp.example.edu.cn/jwks",
    "SHOUWANG_PSEUDONYM_KEY": "p" * 48,
    "SHOUWANG_NOTE_KEYS": "k1:" + "A" * 43,
    "SHOUWANG_PLACEMENT_KEY": "q" * 48,
    "KAFKA_SECURITY_PROTOCOL": "PLAINTEXT",
    "NOTIFY_LINK_KEYS": "l" * 48,
    "NOTIFY_PUBLIC_BASE_URL": "https://shouwang.uni.edu.cn",
    "NOTIFY_APP_BASE_URL": "https://shouwang.uni.edu.cn",
}


def _production(monkeypatch: pytest.MonkeyPatch, **more: str) -> NotifySettings:
    monkeypatch.delenv("SHOUWANG_JWT_SECRET", raising=False)
    for name, value in {**PRODUCTION, **more}.items():
        monkeypatch.setenv(name, value)
    return NotifySettings()


def test_an_sms_link_host_over_plain_http_is_refused_outside_local(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The threat: an SMS link confirms its alert without a sign-in, so a code sent over
    plain http can be read on the way and used to confirm in the recipient's name."""
    with pytest.raises(ValidationError, match="NOTIFY_SMS_LINK_BASE_URL must be https"):
        _production(monkeypatch, NOTIFY_SMS_LINK_BASE_URL="http://xl.uni.edu.cn")
    settings = _production(monkeypatch, NOTIFY_SMS_LINK_BASE_URL="https://xl.uni.edu.cn")
    assert settings.sms_link_base_url == "https://xl.uni.edu.cn"
    # Locally (make up, the tests) plain http is what the sinks speak.
    monkeypatch.setenv("SHOUWANG_ENV", "local")
    monkeypatch.setenv("NOTIFY_SMS_LINK_BASE_URL", "http://127.0.0.1:8080")
    assert NotifySettings().sms_link_base_url == "http://127.0.0.1:8080"


@pytest.mark.parametrize("name", ["NOTIFY_PUBLIC_BASE_URL", "NOTIFY_APP_BASE_URL"])
def test_an_ack_link_origin_over_plain_http_is_refused_outside_local(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """The threat: every message's link (email, WeCom, DingTalk, webhook) confirms its alert
    without a sign-in, and the page it opens sends its reader on to sign in at the app; over
    plain http the code and then the password are read on the way."""
    with pytest.raises(ValidationError, match=f"{name} must be https"):
        _production(monkeypatch, **{name: "http://shouwang.uni.edu.cn"})
    # The shipped default (loopback, plain http) is refused too: production must name its own.
    monkeypatch.delenv(name)
    values = {k: v for k, v in PRODUCTION.items() if k != name}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValidationError, match=f"{name} must be https"):
        NotifySettings()
