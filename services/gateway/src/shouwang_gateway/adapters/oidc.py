"""Signing in through the college's identity provider: OIDC authorization code with PKCE.

Authlib's RFC 6749 / RFC 7636 helpers build the authorization URL with its S256 code
challenge; the code is exchanged over the gateway's own httpx client (Authlib's httpx
integration now wants a different HTTP library); PyJWT verifies the ID token against the
provider's JWKS (issuer, audience, expiry, nonce). The provider's metadata comes from its
discovery document, fetched once.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import jwt
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge


class OidcError(Exception):
    """The provider refused, or answered something we cannot trust."""


class OidcProvider:
    """One OIDC provider and this gateway's client registration with it."""

    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        client_secret: str | None,
        redirect_uri: str,
        scope: str,
        timeout: float = 10.0,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self._redirect_uri = redirect_uri
        self._scope = scope
        self._timeout = timeout
        self._metadata: dict[str, Any] | None = None
        self._jwks: jwt.PyJWKClient | None = None

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            async with httpx.AsyncClient(timeout=self._timeout) as http:
                answer = await http.get(f"{self.issuer}/.well-known/openid-configuration")
            if answer.status_code != 200:
                raise OidcError(f"discovery answered {answer.status_code}")
            metadata: dict[str, Any] = answer.json()
            if metadata.get("issuer", "").rstrip("/") != self.issuer:
                raise OidcError("discovery names another issuer")
            self._metadata = metadata
        return self._metadata

    async def authorization_url(self, *, state: str, code_verifier: str, nonce: str) -> str:
        metadata = await self.metadata()
        url: str = prepare_grant_uri(
            metadata["authorization_endpoint"],
            client_id=self._client_id,
            response_type="code",
            redirect_uri=self._redirect_uri,
            scope=self._scope,
            state=state,
            nonce=nonce,
            code_challenge=create_s256_code_challenge(code_verifier),
            code_challenge_method="S256",
        )
        return url

    async def identity(self, *, code: str, code_verifier: str, nonce: str) -> dict[str, Any]:
        """Exchange the code and return the verified ID token's claims."""
        metadata = await self.metadata()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self._redirect_uri,
            "client_id": self._client_id,
            "code_verifier": code_verifier,
        }
        if self._client_secret:
            form["client_secret"] = self._client_secret
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as http:
                answer = await http.post(metadata["token_endpoint"], data=form)
        except httpx.HTTPError as exc:
            raise OidcError(f"token endpoint unreachable: {type(exc).__name__}") from exc
        if answer.status_code != 200:
            raise OidcError(f"token endpoint answered {answer.status_code}")
        id_token = answer.json().get("id_token")
        if not id_token:
            raise OidcError("no id_token in the token response")
        claims = await asyncio.to_thread(self._verify, str(id_token), metadata["jwks_uri"])
        if claims.get("nonce") != nonce:
            raise OidcError("the ID token's nonce is not this sign-in's")
        return claims

    def _verify(self, id_token: str, jwks_uri: str) -> dict[str, Any]:
        if self._jwks is None:
            self._jwks = jwt.PyJWKClient(jwks_uri, cache_keys=True, lifespan=300)
        try:
            key = self._jwks.get_signing_key_from_jwt(id_token).key
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key,
                algorithms=["RS256", "ES256"],
                audience=self._client_id,
                issuer=self.issuer,
                leeway=30,
                options={"require": ["sub", "exp", "iss", "aud", "iat"]},
            )
        except jwt.PyJWTError as exc:
            raise OidcError(f"ID token refused: {exc}") from exc
        return claims
