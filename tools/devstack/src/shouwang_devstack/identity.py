"""A stand-in identity provider for tests of production auth: RS256 keys and their JWKS.

Production verifies bearer tokens against the identity provider's JWKS URL
(`SHOUWANG_JWKS_URL`). This serves a real JWKS over HTTP on 127.0.0.1 and signs tokens with
its key, or with a stranger's key that the JWKS does not hold.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

KEY_ID = "idp-1"


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class IdentityProvider:
    """Signs RS256 tokens as `issuer`; `jwks_url` is set while `serving()`."""

    issuer: str = "https://idp.example.edu.cn"
    audience: str = "shouwang"
    key: rsa.RSAPrivateKey = field(default_factory=_new_key)
    stranger_key: rsa.RSAPrivateKey = field(default_factory=_new_key)
    jwks_url: str = ""
    key_id: str = KEY_ID
    fetches: int = 0

    def rotate(self) -> None:
        """Withdraw the signing key and publish a new one under a new key id (as a provider
        does when a key leaked): tokens signed with the old key no longer verify."""
        self.key = _new_key()
        self.key_id = f"{KEY_ID}-{self.fetches}-{id(self.key):x}"

    def token(self, *, signed_by_stranger: bool = False, **claims: Any) -> str:
        """A token for a residence counselor of campus `demo` unless `claims` say otherwise."""
        payload = {
            "sub": "T1001",
            "role": "residence_counselor",
            "campus_id": "demo",
            "iss": self.issuer,
            "aud": self.audience,
            "iat": int(time.time()),
            "exp": int(time.time()) + 3600,
            **claims,
        }
        key = self.stranger_key if signed_by_stranger else self.key
        return jwt.encode(payload, key, algorithm="RS256", headers={"kid": self.key_id})

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": self.key_id, "use": "sig", "alg": "RS256"}]}

    @contextmanager
    def serving(self) -> Iterator[IdentityProvider]:
        """Serve the JWKS (as it stands at each request) at `jwks_url` until the block ends."""
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                provider.fetches += 1
                body = json.dumps(provider.jwks()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return

        server = HTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, name="jwks", daemon=True)
        thread.start()
        self.jwks_url = f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json"
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            self.jwks_url = ""
