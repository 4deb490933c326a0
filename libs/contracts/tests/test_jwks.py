"""Production tokens: RS256 verified against the identity provider's JWKS over HTTP."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from shouwang_contracts.auth import AuthError, TokenVerifier
from shouwang_contracts.vocabulary import Role

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER = rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_url() -> Iterator[str]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key()))
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
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json"
    server.shutdown()


def _token(key: rsa.RSAPrivateKey, **claims: object) -> str:
    payload = {
        "sub": "T1001",
        "role": "residence_counselor",
        "campus_id": "demo",
        "iss": "idp",
        "aud": "shouwang",
        "exp": 4102444800,
        **claims,
    }
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": "idp-1"})


def test_rs256_tokens_verify_against_the_jwks(jwks_url: str) -> None:
    verifier = TokenVerifier(jwks_url=jwks_url, issuer="idp")
    principal = verifier.verify(_token(KEY, scope="building:8号楼 class:建工2401"))
    assert principal.role is Role.RESIDENCE_COUNSELOR
    assert [str(g) for g in principal.scope] == ["building:8号楼", "class:建工2401"]


def test_a_token_signed_by_another_key_or_issuer_is_refused(jwks_url: str) -> None:
    verifier = TokenVerifier(jwks_url=jwks_url, issuer="idp")
    with pytest.raises(AuthError):
        verifier.verify(_token(OTHER))
    with pytest.raises(AuthError):
        verifier.verify(_token(KEY, iss="someone-else"))
    with pytest.raises(AuthError, match="claims"):
        verifier.verify(_token(KEY, role="janitor"))


def test_hs256_tokens_are_not_accepted_when_jwks_is_configured(jwks_url: str) -> None:
    forged = jwt.encode(
        {
            "sub": "x",
            "role": "counseling_center",
            "campus_id": "demo",
            "iss": "idp",
            "aud": "shouwang",
            "exp": 4102444800,
        },
        "s" * 40,
        algorithm="HS256",
    )
    with pytest.raises(AuthError):
        TokenVerifier(jwks_url=jwks_url, issuer="idp").verify(forged)
