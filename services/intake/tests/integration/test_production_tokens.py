"""Intake in production's auth mode: RS256 tokens checked against the identity provider's JWKS."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from shouwang_contracts.auth import mint_token
from shouwang_contracts.vocabulary import Role

IDP_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
STRANGER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ISSUER = "https://idp.example.edu.cn"
REPORT = {
    "campus_id": "demo",
    "student_no": "2024020001",
    "signals": ["persistent_low_mood"],
    "observed_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
}


@pytest.fixture(scope="module")
def jwks_url() -> Iterator[str]:
    """The identity provider's key set, served over HTTP as a real one would be."""
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(IDP_KEY.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": "idp-1", "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json"
    server.shutdown()


@pytest.fixture(scope="module")
def intake_extra_env(jwks_url: str) -> dict[str, str]:
    return {"SHOUWANG_JWKS_URL": jwks_url, "SHOUWANG_JWT_ISSUER": ISSUER}


def _bearer(key: rsa.RSAPrivateKey, **claims: object) -> dict[str, str]:
    payload = {
        "sub": "T1001",
        "role": "floor_leader",
        "campus_id": "demo",
        "iss": ISSUER,
        "aud": "shouwang",
        "exp": int((datetime.now(UTC) + timedelta(hours=1)).timestamp()),
        **claims,
    }
    token = jwt.encode(payload, key, algorithm="RS256", headers={"kid": "idp-1"})
    return {"Authorization": f"Bearer {token}"}


async def test_a_token_from_the_identity_provider_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/reports", json=REPORT, headers=_bearer(IDP_KEY))
    assert response.status_code == 202, response.text
    receipt = await client.get(response.headers["location"], headers=_bearer(IDP_KEY))
    assert receipt.status_code == 200


async def test_tokens_the_identity_provider_did_not_sign_are_refused(
    client: httpx.AsyncClient, devstack_env: dict[str, str]
) -> None:
    # Right issuer and claims, but HS256 with the local secret: never accepted beside a JWKS.
    local = mint_token(
        devstack_env["SHOUWANG_JWT_SECRET"],
        sub="T1001",
        role=Role.FLOOR_LEADER,
        campus_id="demo",
        issuer=ISSUER,
    )
    refused = {
        "a local HS256 token": {"Authorization": f"Bearer {local}"},
        "another key": _bearer(STRANGER_KEY),
        "another issuer": _bearer(IDP_KEY, iss="https://elsewhere.example"),
        "an expired token": _bearer(IDP_KEY, exp=int(datetime.now(UTC).timestamp()) - 3600),
    }
    for what, headers in refused.items():
        response = await client.post("/v1/reports", json=REPORT, headers=headers)
        assert response.status_code == 401, (what, response.text)
        assert response.json()["code"] == "invalid_token", what
        assert response.headers["www-authenticate"].startswith("Bearer"), what
