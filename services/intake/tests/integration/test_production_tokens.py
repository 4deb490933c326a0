"""Intake in production's auth mode: RS256 tokens checked against the identity provider's JWKS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from shouwang_contracts.auth import mint_token
from shouwang_contracts.vocabulary import Role
from shouwang_devstack.identity import IdentityProvider

REPORT = {
    "campus_id": "demo",
    "student_no": "2024020001",
    "signals": ["persistent_low_mood"],
    "observed_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
}


@pytest.fixture(scope="module")
def intake_extra_env(identity_provider: IdentityProvider) -> dict[str, str]:
    return {
        "SHOUWANG_JWKS_URL": identity_provider.jwks_url,
        "SHOUWANG_JWT_ISSUER": identity_provider.issuer,
    }


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_token_from_the_identity_provider_is_accepted(
    client: httpx.AsyncClient, identity_provider: IdentityProvider
) -> None:
    headers = _bearer(identity_provider.token(role="floor_leader"))
    response = await client.post("/v1/reports", json=REPORT, headers=headers)
    assert response.status_code == 202, response.text
    receipt = await client.get(response.headers["location"], headers=headers)
    assert receipt.status_code == 200


async def test_tokens_the_identity_provider_did_not_sign_are_refused(
    client: httpx.AsyncClient, devstack_env: dict[str, str], identity_provider: IdentityProvider
) -> None:
    idp = identity_provider
    # Right issuer and claims, but HS256 with the local secret: never accepted beside a JWKS.
    local = mint_token(
        devstack_env["SHOUWANG_JWT_SECRET"],
        sub="T1001",
        role=Role.FLOOR_LEADER,
        campus_id="demo",
        issuer=idp.issuer,
    )
    refused = {
        "a local HS256 token": {"Authorization": f"Bearer {local}"},
        "another key": _bearer(idp.token(role="floor_leader", signed_by_stranger=True)),
        "another issuer": _bearer(idp.token(role="floor_leader", iss="https://elsewhere.example")),
        "an expired token": _bearer(
            idp.token(role="floor_leader", exp=int(datetime.now(UTC).timestamp()) - 3600)
        ),
    }
    for what, headers in refused.items():
        response = await client.post("/v1/reports", json=REPORT, headers=headers)
        assert response.status_code == 401, (what, response.text)
        assert response.json()["code"] == "invalid_token", what
        assert response.headers["www-authenticate"].startswith("Bearer"), what
