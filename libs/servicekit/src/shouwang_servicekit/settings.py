"""Settings every service shares, read from the environment.

A service subclasses `SharedSettings` with its own `env_prefix` (e.g. `TRIAGE_`); the shared
names below are read without prefix so one environment configures the whole platform.
Local defaults exist so `make up` works out of the box; outside `local`/`test` they refuse to
start, because a default secret in production is no secret.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import ClassVar, Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from shouwang_contracts.auth import TokenVerifier
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.pseudonym import PlacementHasher, Pseudonymizer

from .kafka.clients import KafkaClients, KafkaSecurity, SaslMechanism, SecurityProtocol
from .ratelimits import (
    AUDITED_READS_BURST,
    AUDITED_READS_PER_HOUR,
    PERSON_REQUESTS_BURST,
    PERSON_REQUESTS_PER_MINUTE,
    PersonLimits,
    RateLimiter,
)
from .sharedlimits import SharedCounter

LOCAL_JWT_SECRET = "local-only-jwt-secret-change-me-0123456789"  # noqa: S105 - refused outside local
LOCAL_PSEUDONYM_KEY = "local-only-pseudonym-key-change-me-0123456789"
LOCAL_NOTE_KEYS = "local:bG9jYWwtb25seS1ub3RlLWtleS0zMi1ieXRlcyEhISE"
LOCAL_PLACEMENT_KEY = "local-only-placement-key-change-me-0123456789"


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
    kafka_security_protocol: SecurityProtocol = Field(
        default="PLAINTEXT",
        validation_alias=_shared("KAFKA_SECURITY_PROTOCOL"),
        description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL (TLS + SASL: what a shared "
        "network needs). Outside local/test it must be set explicitly.",
    )
    kafka_sasl_mechanism: SaslMechanism = Field(
        default="SCRAM-SHA-512", validation_alias=_shared("KAFKA_SASL_MECHANISM")
    )
    kafka_sasl_username: str | None = Field(
        default=None, validation_alias=_shared("KAFKA_SASL_USERNAME")
    )
    kafka_sasl_password: SecretStr | None = Field(
        default=None, validation_alias=_shared("KAFKA_SASL_PASSWORD")
    )
    kafka_ssl_cafile: str | None = Field(
        default=None,
        validation_alias=_shared("KAFKA_SSL_CAFILE"),
        description="PEM file of the CA that signed the brokers' certificates.",
    )
    unauthenticated_per_minute: int = Field(
        default=600,
        ge=0,
        validation_alias=_shared("SHOUWANG_UNAUTHENTICATED_PER_MINUTE"),
        description="Requests without a valid token one address may make per minute (0: no "
        "limit); /healthz, /readyz and /metrics are never limited.",
    )
    per_person_per_minute: int = Field(
        default=PERSON_REQUESTS_PER_MINUTE,
        ge=0,
        validation_alias=_shared("SHOUWANG_PER_PERSON_PER_MINUTE"),
        description="/v1 requests one signed-in person (campus and subject) may make of one "
        "service per minute on average (0: no limit).",
    )
    per_person_burst: int = Field(
        default=PERSON_REQUESTS_BURST,
        ge=1,
        validation_alias=_shared("SHOUWANG_PER_PERSON_BURST"),
        description="Of those, how many back to back (a page loading many things at once).",
    )
    audited_reads_per_hour: int = Field(
        default=AUDITED_READS_PER_HOUR,
        ge=0,
        validation_alias=_shared("SHOUWANG_AUDITED_READS_PER_HOUR"),
        description="Reads that write an audit row (cases, notes, student files, grades, "
        "lookups) one person may make of one service per hour on average (0: no limit).",
    )
    audited_reads_burst: int = Field(
        default=AUDITED_READS_BURST,
        ge=1,
        validation_alias=_shared("SHOUWANG_AUDITED_READS_BURST"),
        description="Of those, how many back to back.",
    )
    person_limits_block: int = Field(
        default=1,
        ge=1,
        validation_alias=_shared("SHOUWANG_PERSON_LIMITS_BLOCK"),
        description="Requests of a person's allowance one replica claims per statement on the "
        "shared person limits and spends alone (1: a statement per request; more: fewer "
        "statements, a person refused up to that many minus one early per replica).",
    )
    jwt_secret: SecretStr | None = Field(
        default=SecretStr(LOCAL_JWT_SECRET), validation_alias=_shared("SHOUWANG_JWT_SECRET")
    )
    jwks_url: str | None = Field(default=None, validation_alias=_shared("SHOUWANG_JWKS_URL"))
    jwks_refresh_seconds: float = Field(
        default=300,
        gt=0,
        validation_alias=_shared("SHOUWANG_JWKS_REFRESH_SECONDS"),
        description="How often the JWKS is fetched again: the longest a withdrawn key works.",
    )
    jwt_max_age_seconds: int = Field(
        default=12 * 3600,
        gt=0,
        validation_alias=_shared("SHOUWANG_JWT_MAX_AGE_SECONDS"),
        description="The oldest token accepted (since its iat), whatever its exp says.",
    )
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
    placement_key: SecretStr = Field(
        default=SecretStr(LOCAL_PLACEMENT_KEY),
        validation_alias=_shared("SHOUWANG_PLACEMENT_KEY"),
        description="HMAC key of the directory's placement hashes (casework, triage).",
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
    def _kafka_security_is_whole(self) -> SharedSettings:
        self.kafka_security()  # refuses SASL without credentials
        return self

    @model_validator(mode="after")
    def _no_default_secrets_outside_local(self) -> SharedSettings:
        if self.env in ("local", "test"):
            return self
        jwt_secret = self.jwt_secret.get_secret_value() if self.jwt_secret else ""
        defaults = {
            # No silent plaintext in production: a cluster on a shared network wants
            # SASL_SSL; PLAINTEXT only where the operator says the network is private.
            "KAFKA_SECURITY_PROTOCOL (SASL_SSL, or PLAINTEXT on a network you trust)": (
                "kafka_security_protocol" not in self.model_fields_set
            ),
            # A shared HS256 secret signs tokens anyone holding it can mint, and a JWKS over
            # plain http can be swapped on the way: production has neither.
            "SHOUWANG_JWKS_URL (https; HS256 is refused in production)": not (self.jwks_url or "")
            .lower()
            .startswith("https://"),
            # With a JWKS URL the HS256 secret is never used, so its default does not matter.
            "SHOUWANG_JWT_SECRET": not self.jwks_url and jwt_secret in ("", LOCAL_JWT_SECRET),
            "SHOUWANG_PSEUDONYM_KEY": "SHOUWANG_PSEUDONYM_KEY" in self.SECRETS_IN_USE
            and self.pseudonym_key.get_secret_value() == LOCAL_PSEUDONYM_KEY,
            "SHOUWANG_NOTE_KEYS": "SHOUWANG_NOTE_KEYS" in self.SECRETS_IN_USE
            and self.note_keys.get_secret_value() == LOCAL_NOTE_KEYS,
            "SHOUWANG_PLACEMENT_KEY": "SHOUWANG_PLACEMENT_KEY" in self.SECRETS_IN_USE
            and self.placement_key.get_secret_value() == LOCAL_PLACEMENT_KEY,
        }
        bad = [name for name, is_default in defaults.items() if is_default]
        if bad:
            raise ValueError(f"set real secrets outside local mode: {', '.join(bad)}")
        return self

    def token_verifier(self) -> TokenVerifier:
        """HS256 with the shared secret locally; RS256 via JWKS when a URL is set (and in
        production, where the JWKS must come over https and HS256 is refused)."""
        secret = None
        if not self.jwks_url and self.jwt_secret is not None:
            secret = self.jwt_secret.get_secret_value()
        return TokenVerifier(
            secret=secret,
            jwks_url=self.jwks_url,
            issuer=self.jwt_issuer,
            audience=self.jwt_audience,
            jwks_refresh_seconds=self.jwks_refresh_seconds,
            max_age_seconds=self.jwt_max_age_seconds,
            require_https=self.env == "production",
        )

    def kafka_security(self) -> KafkaSecurity:
        """How this service's Kafka clients connect: TLS and SASL as configured."""
        password = self.kafka_sasl_password
        return KafkaSecurity(
            protocol=self.kafka_security_protocol,
            sasl_mechanism=self.kafka_sasl_mechanism,
            username=self.kafka_sasl_username,
            password=password.get_secret_value() if password else None,
            ca_file=self.kafka_ssl_cafile,
        )

    def kafka_clients(self, service: str) -> KafkaClients:
        """The maker of `service`'s Kafka clients (client id `shouwang-<service>`)."""
        return KafkaClients(
            self.kafka_bootstrap_servers,
            client_id=f"shouwang-{service}",
            security=self.kafka_security(),
        )

    def unauthenticated_limiter(self) -> RateLimiter | None:
        """The per-address limit of requests without a valid token (`service_app`)."""
        if not self.unauthenticated_per_minute:
            return None
        return RateLimiter(self.unauthenticated_per_minute, 60)

    def person_limits(self, database_url: SecretStr | None = None) -> PersonLimits:
        """The per-person limits of signed-in callers (`service_app`); with the service's
        `database_url` (whose migrations create `sharedlimits.TABLE_SQL`'s table), they
        hold across its replicas. People are keyed there by an HMAC under the pseudonym
        key, or in a service not given it (`SECRETS_IN_USE`: triage) under the placement
        key: a key left at its public local default would let anyone who reads the table
        test guessed staff numbers against it. A service holding neither (stats) overrides
        `_person_limits_key` with a key of its own."""
        shared = None
        if database_url is not None and (self.per_person_per_minute or self.audited_reads_per_hour):
            shared = SharedCounter(
                database_url.get_secret_value(),
                key=self._person_limits_key(),
                block=self.person_limits_block,
            )
        return PersonLimits.of(
            self.per_person_per_minute,
            self.per_person_burst,
            self.audited_reads_per_hour,
            self.audited_reads_burst,
            shared,
        )

    def _person_limits_key(self) -> bytes:
        if "SHOUWANG_PSEUDONYM_KEY" in self.SECRETS_IN_USE:
            return self.pseudonym_key.get_secret_value().encode()
        if "SHOUWANG_PLACEMENT_KEY" in self.SECRETS_IN_USE:
            # Another use than the directory's hashes: a key of its own derived from it.
            secret = self.placement_key.get_secret_value().encode()
            return hmac.new(secret, b"shouwang person limits", hashlib.sha256).digest()
        raise ValueError("shared person limits need the pseudonym or the placement key")

    def pseudonymizer(self) -> Pseudonymizer:
        return Pseudonymizer(self.pseudonym_key.get_secret_value().encode())

    def placement_hasher(self) -> PlacementHasher:
        return PlacementHasher(self.placement_key.get_secret_value().encode())

    def note_cipher(self) -> NoteCipher:
        return NoteCipher.from_config(self.note_keys.get_secret_value())
