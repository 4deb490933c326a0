"""The tokens minted for the services are the ones the services' verifier accepts."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from shouwang_contracts.auth import TokenVerifier
from shouwang_contracts.vocabulary import Role
from shouwang_gateway.adapters.tokens import TokenMinter
from shouwang_gateway.domain.sessions import Identity

SECRET = "a-test-secret-that-is-long-enough-0123456789"
WHO = Identity(sub="2024020001", role=Role.DORM_LEADER, campus_id="demo", scope=("room:8号楼/202",))


def test_an_hs256_token_is_what_the_services_verify() -> None:
    minter = TokenMinter(
        issuer="shouwang-local", audience="shouwang", ttl_seconds=600, secret=SECRET
    )
    principal = TokenVerifier(secret=SECRET).verify(minter.token_for(b"s1", WHO))
    assert (principal.sub, principal.role, principal.campus_id) == (
        "2024020001",
        Role.DORM_LEADER,
        "demo",
    )
    assert [str(g) for g in principal.scope] == ["room:8号楼/202"]


def test_a_session_reuses_its_token_until_forgotten() -> None:
    minter = TokenMinter(issuer="i", audience="a", ttl_seconds=600, secret=SECRET)
    first = minter.token_for(b"s1", WHO)
    assert minter.token_for(b"s1", WHO) == first
    assert minter.token_for(b"s2", WHO) != first
    minter.forget(b"s1")
    assert minter.token_for(b"s1", WHO) != first


@pytest.fixture
def served_jwks() -> Iterator[tuple[TokenMinter, str]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    minter = TokenMinter(
        issuer="shouwang-gateway", audience="shouwang", ttl_seconds=600, private_key_pem=pem
    )
    body = json.dumps(minter.jwks()).encode()

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
    try:
        yield minter, f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json"
    finally:
        server.shutdown()
        server.server_close()


def test_an_rs256_token_verifies_against_the_gateways_jwks(
    served_jwks: tuple[TokenMinter, str],
) -> None:
    minter, jwks_url = served_jwks
    verifier = TokenVerifier(jwks_url=jwks_url, issuer="shouwang-gateway")
    assert verifier.verify(minter.token_for(b"s1", WHO)).sub == "2024020001"
    assert minter.jwks()["keys"][0]["kid"] == "gateway-1"
    assert "d" not in minter.jwks()["keys"][0]  # the private part never leaves
