"""Shared settings: local defaults work locally and are refused in production."""

from __future__ import annotations

from typing import ClassVar

import pytest
from pydantic import ValidationError
from shouwang_servicekit.settings import SharedSettings

REAL = {"SHOUWANG_PSEUDONYM_KEY": "p" * 48, "SHOUWANG_NOTE_KEYS": "k1:" + "A" * 43}


class NoNotes(SharedSettings):
    SECRETS_IN_USE: ClassVar[frozenset[str]] = frozenset()


def _env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for name in (
        "SHOUWANG_JWT_SECRET",
        "SHOUWANG_JWKS_URL",
        "SHOUWANG_PSEUDONYM_KEY",
        "SHOUWANG_NOTE_KEYS",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def test_local_defaults_work_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, SHOUWANG_ENV="local")
    settings = SharedSettings()
    assert settings.token_verifier() is not None
    assert settings.pseudonymizer().student_ref("demo", "1").startswith("stu_")


def test_production_refuses_every_local_default(monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, SHOUWANG_ENV="production")
    with pytest.raises(ValidationError) as caught:
        SharedSettings()
    for name in ("SHOUWANG_JWT_SECRET", "SHOUWANG_PSEUDONYM_KEY", "SHOUWANG_NOTE_KEYS"):
        assert name in str(caught.value)


def test_production_with_jwks_needs_no_hs256_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    _env(
        monkeypatch,
        SHOUWANG_ENV="production",
        SHOUWANG_JWKS_URL="https://idp.example.edu.cn/jwks",
        **REAL,
    )
    assert SharedSettings().jwks_url


def test_a_service_without_notes_needs_no_note_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, SHOUWANG_ENV="production", SHOUWANG_JWT_SECRET="j" * 48)
    assert NoNotes().env == "production"
    with pytest.raises(ValidationError):
        SharedSettings()
