"""The gateway's settings refuse what would be unsafe outside a developer's machine."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from shouwang_gateway.config import GatewaySettings

PEM = "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----"


def test_production_refuses_the_local_jwt_secret_unless_it_signs_with_its_own_key() -> None:
    with pytest.raises(ValidationError, match="GATEWAY_SIGNING_KEY"):
        GatewaySettings(SHOUWANG_ENV="production")
    signing = GatewaySettings(SHOUWANG_ENV="production", signing_key=PEM)
    assert signing.signing_key is not None
    shared = GatewaySettings(SHOUWANG_ENV="production", SHOUWANG_JWT_SECRET="x" * 48)
    assert shared.jwt_secret is not None


def test_production_refuses_cookies_that_travel_over_plain_http() -> None:
    with pytest.raises(ValidationError, match="COOKIE_SECURE"):
        GatewaySettings(SHOUWANG_ENV="production", signing_key=PEM, cookie_secure=False)


def test_single_sign_on_needs_a_client_and_a_redirect() -> None:
    with pytest.raises(ValidationError, match="OIDC"):
        GatewaySettings(oidc_issuer="https://idp.example.edu.cn")
    ready = GatewaySettings(
        oidc_issuer="https://idp.example.edu.cn",
        oidc_client_id="shouwang",
        oidc_redirect_uri="https://shouwang.example.edu.cn/auth/oidc/callback",
    )
    assert ready.oidc_enabled
    assert ready.upstream_url("casework") == "http://127.0.0.1:8003"
