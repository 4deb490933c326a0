"""Shared settings: local defaults work locally and are refused in production."""

from __future__ import annotations

from typing import ClassVar

import pytest
from pydantic import SecretStr, ValidationError
from shouwang_servicekit.settings import LOCAL_PSEUDONYM_KEY, SharedSettings
from shouwang_servicekit.sharedlimits import SharedCounter

REAL = {
    "SHOUWANG_PSEUDONYM_KEY": "p" * 48,
    "SHOUWANG_NOTE_KEYS": "k1:" + "A" * 43,
    "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "KAFKA_SASL_USERNAME": "svc",
    "KAFKA_SASL_PASSWORD": "pw",
}
JWKS = {"SHOUWANG_JWKS_URL": "https://idp.example.edu.cn/jwks"}


class NoNotes(SharedSettings):
    SECRETS_IN_USE: ClassVar[frozenset[str]] = frozenset()


def _env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for name in (
        "SHOUWANG_JWT_SECRET",
        "SHOUWANG_JWKS_URL",
        "SHOUWANG_PSEUDONYM_KEY",
        "SHOUWANG_NOTE_KEYS",
        "SHOUWANG_PLACEMENT_KEY",
        "KAFKA_SECURITY_PROTOCOL",
        "KAFKA_SASL_USERNAME",
        "KAFKA_SASL_PASSWORD",
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
    _env(monkeypatch, SHOUWANG_ENV="production", **JWKS, KAFKA_SECURITY_PROTOCOL="PLAINTEXT")
    assert NoNotes().env == "production"
    with pytest.raises(ValidationError):
        SharedSettings()


def test_production_refuses_hs256_tokens_and_a_jwks_over_http(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _env(monkeypatch, SHOUWANG_ENV="production", SHOUWANG_JWT_SECRET="j" * 48, **REAL)
    with pytest.raises(ValidationError, match="HS256 is refused"):
        SharedSettings()
    _env(monkeypatch, SHOUWANG_ENV="production", SHOUWANG_JWKS_URL="http://idp/jwks", **REAL)
    with pytest.raises(ValidationError, match="HS256 is refused"):
        SharedSettings()
    _env(monkeypatch, SHOUWANG_ENV="production", **JWKS, **REAL)
    assert SharedSettings().token_verifier().needs_network


def test_production_refuses_kafka_in_plain_text_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    real = {k: v for k, v in REAL.items() if not k.startswith("KAFKA_")}
    _env(monkeypatch, SHOUWANG_ENV="production", **JWKS, **real)
    with pytest.raises(ValidationError, match="KAFKA_SECURITY_PROTOCOL"):
        SharedSettings()
    _env(monkeypatch, SHOUWANG_ENV="local", KAFKA_SECURITY_PROTOCOL="SASL_SSL")
    with pytest.raises(ValidationError, match="SASL username and password"):
        SharedSettings()


async def test_every_kafka_client_of_a_service_speaks_tls_and_scram(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _env(monkeypatch, SHOUWANG_ENV="local", **{k: v for k, v in REAL.items() if "KAFKA" in k})
    clients = SharedSettings().kafka_clients("intake")
    producer = clients.producer(linger_ms=1)
    assert producer.client._security_protocol == "SASL_SSL"
    assert producer.client._sasl_mechanism == "SCRAM-SHA-512"
    assert producer.client._ssl_context is not None
    consumers = clients.broker(linger_ms=1).config.broker_config.builder.keywords
    assert consumers["security_protocol"] == "SASL_SSL"
    assert consumers["sasl_mechanism"] == "SCRAM-SHA-512"
    assert consumers["sasl_plain_username"] == "svc"


class PlacementOnly(SharedSettings):
    """A service given the placement key only, as triage is."""

    SECRETS_IN_USE: ClassVar[frozenset[str]] = frozenset({"SHOUWANG_PLACEMENT_KEY"})


def test_person_limits_of_a_service_without_the_pseudonym_key_are_not_keyed_by_its_public_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Triage runs in production with the pseudonym key at its local default (never given the
    real one): keyed by it, the shared person-limits table would let anyone reading it test
    guessed staff numbers offline. It is keyed by what the service does hold."""
    _env(monkeypatch, SHOUWANG_ENV="production", SHOUWANG_PLACEMENT_KEY="q" * 48, **REAL, **JWKS)
    monkeypatch.delenv("SHOUWANG_PSEUDONYM_KEY")
    dsn = SecretStr("postgresql://triage@127.0.0.1/shouwang")
    shared = PlacementOnly().person_limits(dsn).shared
    assert shared is not None
    public = SharedCounter("postgresql://unused", key=LOCAL_PSEUDONYM_KEY.encode())
    assert shared.person("5:campus:T1001") != public.person("5:campus:T1001")
    monkeypatch.setenv("SHOUWANG_PLACEMENT_KEY", "r" * 48)
    other = PlacementOnly().person_limits(dsn).shared
    assert other is not None
    assert other.person("5:campus:T1001") != shared.person("5:campus:T1001")
    # A service given the pseudonym key keeps keying by it.
    monkeypatch.setenv("SHOUWANG_PSEUDONYM_KEY", REAL["SHOUWANG_PSEUDONYM_KEY"])
    with_pseudonyms = SharedSettings().person_limits(dsn).shared
    assert with_pseudonyms is not None
    assert with_pseudonyms.person("x") == SharedCounter("p", key=b"p" * 48).person("x")
