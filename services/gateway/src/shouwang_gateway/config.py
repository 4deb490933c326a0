"""The gateway's settings, from the environment only (prefix GATEWAY_, plus the shared names)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict
from shouwang_servicekit.settings import LOCAL_JWT_SECRET, SharedSettings

# services/gateway/src/shouwang_gateway/config.py -> the repository root in a source checkout.
_REPO_ROOT = Path(__file__).resolve().parents[4]
UPSTREAMS = ("intake", "triage", "casework", "notify", "stats")


class GatewaySettings(SharedSettings):
    """Everything the gateway can be told; secrets refuse their local defaults in production.

    Tokens for the services are minted here: HS256 with `SHOUWANG_JWT_SECRET` (local, and
    any deployment whose services share that secret), or RS256 with `signing_key` (PEM),
    whose public half the gateway serves at `/.well-known/jwks.json` for the services'
    `SHOUWANG_JWKS_URL`.
    """

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8080
    database_url: SecretStr = SecretStr("postgresql://gateway:gateway@127.0.0.1:5432/shouwang")
    db_pool_min: int = 1
    db_pool_max: int = 10

    # Where the services answer (one origin for the browser: /api/<service>/v1/...).
    intake_url: str = "http://127.0.0.1:8001"
    triage_url: str = "http://127.0.0.1:8002"
    casework_url: str = "http://127.0.0.1:8003"
    notify_url: str = "http://127.0.0.1:8004"
    stats_url: str = "http://127.0.0.1:8005"
    upstream_timeout_seconds: float = Field(default=60.0, gt=0)

    # The built web app (`npm run build` in web/).
    web_root: Path = _REPO_ROOT / "web" / "dist"
    # Campus directory: names and the numbers to call in an emergency.
    campuses_file: Path | None = None

    # Sessions: absolute lifetime, and how long one may sit idle.
    session_hours: float = Field(default=12.0, gt=0)
    session_idle_minutes: float = Field(default=30.0, gt=0)
    # `Secure` cookies (browsers accept them from http://localhost and http://127.0.0.1 too).
    cookie_secure: bool = True
    # The origin browsers use (e.g. https://shouwang.example.edu.cn); unset: the Host header's.
    public_origin: str | None = None

    # Sign-in attempts: failures per account and per client address within the window.
    signin_window_minutes: float = Field(default=15.0, gt=0)
    signin_failures_per_account: int = Field(default=5, ge=1)
    signin_failures_per_address: int = Field(default=30, ge=1)

    # Tokens minted for the services.
    token_minutes: int = Field(default=10, ge=1, le=60)
    signing_key: SecretStr | None = Field(
        default=None, description="RS256 private key (PEM); unset: HS256 with the JWT secret."
    )
    signing_key_id: str = "gateway-1"

    # OIDC (authorization code with PKCE); off unless an issuer is set.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_scope: str = "openid profile"
    oidc_redirect_uri: str | None = None
    # Claims of the ID token that carry the platform's words.
    oidc_role_claim: str = "role"
    oidc_campus_claim: str = "campus_id"
    oidc_scope_claim: str = "shouwang_scope"
    oidc_sub_claim: str = "sub"
    oidc_name_claim: str = "name"

    # Local accounts are for pilots; production may turn them off and use OIDC alone.
    local_accounts: bool = True
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # The gateway never pseudonymises nor opens notes: production need not hand it those keys.
    SECRETS_IN_USE: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _no_default_secrets_outside_local(self) -> GatewaySettings:
        """Replaces the shared check: with an RS256 signing key the JWT secret is never used."""
        if self.env in ("local", "test") or self.signing_key is not None:
            return self
        secret = self.jwt_secret.get_secret_value() if self.jwt_secret else ""
        if secret in ("", LOCAL_JWT_SECRET):
            raise ValueError(
                "set real secrets outside local mode: SHOUWANG_JWT_SECRET or GATEWAY_SIGNING_KEY"
            )
        return self

    @model_validator(mode="after")
    def _oidc_complete(self) -> GatewaySettings:
        if self.oidc_issuer and not (self.oidc_client_id and self.oidc_redirect_uri):
            raise ValueError(
                "GATEWAY_OIDC_ISSUER needs GATEWAY_OIDC_CLIENT_ID and GATEWAY_OIDC_REDIRECT_URI"
            )
        if self.env == "production" and not self.cookie_secure:
            raise ValueError("GATEWAY_COOKIE_SECURE may be off only in local or test")
        return self

    @property
    def oidc_enabled(self) -> bool:
        return self.oidc_issuer is not None

    def upstream_url(self, service: str) -> str:
        """The base URL of one of `UPSTREAMS`."""
        url: str = getattr(self, f"{service}_url")
        return url.rstrip("/")
