"""Settings every service shares, read from the environment.

A service subclasses `SharedSettings` with its own `env_prefix` (e.g. `TRIAGE_`); the shared
names below are read without prefix so one environment configures the whole platform.
Local defaults exist so `make up` works out of the box; outside `local`/`test` they refuse to
start, because a default secret in production is no secret.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from shouwang_contracts.auth import TokenVerifier
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.pseudonym import Pseudonymizer

from .kafka.clients import KafkaClients

LOCAL_JWT_SECRET = "local-only-jwt-secret-change-me-0123456789"  # noqa: S105 - refused outside local
LOCAL_PSEUDONYM_KEY = "local-only-pseudonym-key-change-me-0123456789"
LOCAL_NOTE_KEYS = "local:bG9jYWwtb25seS1ub3RlLWtleS0zMi1ieXRlcyEhISE"


def _shared(name: str) -> AliasChoices:
    return AliasChoices(name)


class SharedSettings(BaseSettings):
    """The platform-wide part of every service's settings."""

    model_config = SettingsConfigDict(extra="ignore")

    env: Literal["local", "test", "production"] = Field(
        default="local", validation_alias=_shared("SHOUWANG_ENV")
    )
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092", validation_alias=_shared("KAFKA_BOOTSTRAP_SERVERS")
    )
    jwt_secret: SecretStr | None = Field(
        default=SecretStr(LOCAL_JWT_SECRET), validation_alias=_shared("SHOUWANG_JWT_SECRET")
    )
    jwks_url: str | None = Field(default=None, validation_alias=_shared("SHOUWANG_JWKS_URL"))
    jwt_issuer: str = Field(
        default="shouwang-local", validation_alias=_shared("SHOUWANG_JWT_ISSUER")
    )
    jwt_audience: str = Field(default="shouwang", validation_alias=_shared("SHOUWANG_JWT_AUDIENCE"))
    pseudonym_key: SecretStr = Field(
        default=SecretStr(LOCAL_PSEUDONYM_KEY), validation_alias=_shared("SHOUWANG_PSEUDONYM_KEY")
    )
    note_keys: SecretStr = Field(
        default=SecretStr(LOCAL_NOTE_KEYS), validation_alias=_shared("SHOUWANG_NOTE_KEYS")
    )
    timezone: str = Field(
        default="Asia/Shanghai",
        validation_alias=_shared("SHOUWANG_TIMEZONE"),
        description="Campus time zone, for times written without an offset.",
    )

    # Which shared keys this service uses; a service that never pseudonymises or opens notes
    # (triage) narrows this, so production need not hand it those keys at all.
    SECRETS_IN_USE: ClassVar[frozenset[str]] = frozenset(
        {"SHOUWANG_PSEUDONYM_KEY", "SHOUWANG_NOTE_KEYS"}
    )

    @model_validator(mode="after")
    def _no_default_secrets_outside_local(self) -> SharedSettings:
        if self.env in ("local", "test"):
            return self
        jwt_secret = self.jwt_secret.get_secret_value() if self.jwt_secret else ""
        defaults = {
            # With a JWKS URL the HS256 secret is never used, so its default does not matter.
            "SHOUWANG_JWT_SECRET": not self.jwks_url and jwt_secret in ("", LOCAL_JWT_SECRET),
            "SHOUWANG_PSEUDONYM_KEY": "SHOUWANG_PSEUDONYM_KEY" in self.SECRETS_IN_USE
            and self.pseudonym_key.get_secret_value() == LOCAL_PSEUDONYM_KEY,
            "SHOUWANG_NOTE_KEYS": "SHOUWANG_NOTE_KEYS" in self.SECRETS_IN_USE
            and self.note_keys.get_secret_value() == LOCAL_NOTE_KEYS,
        }
        bad = [name for name, is_default in defaults.items() if is_default]
        if bad:
            raise ValueError(f"set real secrets outside local mode: {', '.join(bad)}")
        return self

    def token_verifier(self) -> TokenVerifier:
        """HS256 with the shared secret locally; RS256 via JWKS when a URL is set."""
        secret = None
        if not self.jwks_url and self.jwt_secret is not None:
            secret = self.jwt_secret.get_secret_value()
        return TokenVerifier(
            secret=secret,
            jwks_url=self.jwks_url,
            issuer=self.jwt_issuer,
            audience=self.jwt_audience,
        )

    def kafka_clients(self, service: str) -> KafkaClients:
        """The maker of `service`'s Kafka clients (client id `shouwang-<service>`)."""
        return KafkaClients(self.kafka_bootstrap_servers, client_id=f"shouwang-{service}")

    def pseudonymizer(self) -> Pseudonymizer:
        return Pseudonymizer(self.pseudonym_key.get_secret_value().encode())

    def note_cipher(self) -> NoteCipher:
        return NoteCipher.from_config(self.note_keys.get_secret_value())
