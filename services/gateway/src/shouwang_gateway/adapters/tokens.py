"""The bearer tokens the gateway sends to the services on a session's behalf.

The browser never holds one: the gateway mints a short-lived token per session, keeps it in
memory until shortly before it expires, and puts it on each request it forwards. HS256 with
the platform secret (what the services verify locally), or RS256 with the gateway's key,
whose public half `/.well-known/jwks.json` serves to the services' `SHOUWANG_JWKS_URL`.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import OrderedDict
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from jwt.algorithms import RSAAlgorithm

from ..domain.sessions import Identity

_CACHE_SIZE = 10_000
# A cached token is replaced when less than this is left of it: a request forwarded now must
# not arrive at a service after its token expired.
_RENEW_BEFORE = 120


class TokenMinter:
    """Mints and remembers the services' tokens for sessions."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        ttl_seconds: int,
        secret: str | None = None,
        private_key_pem: str | None = None,
        key_id: str = "gateway-1",
    ) -> None:
        if not secret and not private_key_pem:
            raise ValueError("configure SHOUWANG_JWT_SECRET or GATEWAY_SIGNING_KEY")
        self._issuer = issuer
        self._audience = audience
        self._ttl = ttl_seconds
        self._secret = secret
        self._key: RSAPrivateKey | None = None
        self._key_id = key_id
        if private_key_pem:
            key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
            if not isinstance(key, RSAPrivateKey):
                raise ValueError("GATEWAY_SIGNING_KEY must be an RSA private key (PEM)")
            self._key = key
        self._minted: OrderedDict[bytes, tuple[float, str]] = OrderedDict()

    @property
    def algorithm(self) -> str:
        return "RS256" if self._key is not None else "HS256"

    def token_for(self, session_key: bytes, identity: Identity) -> str:
        """The session's current token, minted anew when none is left with time to spare."""
        now = time.time()
        cached = self._minted.get(session_key)
        if cached is not None and cached[0] - now > _RENEW_BEFORE:
            return cached[1]
        expires = int(now) + self._ttl
        token = self._mint(identity, int(now), expires)
        self._minted[session_key] = (expires, token)
        self._minted.move_to_end(session_key)
        if len(self._minted) > _CACHE_SIZE:
            self._minted.popitem(last=False)
        return token

    def forget(self, session_key: bytes) -> None:
        """Drop a signed-out session's token (it still expires on its own within minutes)."""
        self._minted.pop(session_key, None)

    def _mint(self, identity: Identity, issued: int, expires: int) -> str:
        claims: dict[str, Any] = {
            "sub": identity.sub,
            "role": identity.role.value,
            "campus_id": identity.campus_id,
            "scope": list(identity.scope),
            "iat": issued,
            "exp": expires,
            "iss": self._issuer,
            "aud": self._audience,
            "jti": uuid.uuid4().hex,
        }
        if self._key is not None:
            return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self._key_id})
        assert self._secret is not None
        return jwt.encode(claims, self._secret, algorithm="HS256")

    def jwks(self) -> dict[str, Any]:
        """The public keys services verify RS256 tokens with (empty for HS256)."""
        if self._key is None:
            return {"keys": []}
        jwk = json.loads(RSAAlgorithm.to_jwk(self._key.public_key()))
        jwk.update({"kid": self._key_id, "use": "sig", "alg": "RS256"})
        return {"keys": [jwk]}
