"""Production tokens: RS256 verified against the identity provider's JWKS over HTTP."""

from __future__ import annotations

import jwt
import pytest
from shouwang_contracts.auth import AuthError, TokenVerifier
from shouwang_contracts.vocabulary import Role
from shouwang_devstack.identity import IdentityProvider


def _verifier(idp: IdentityProvider) -> TokenVerifier:
    return TokenVerifier(jwks_url=idp.jwks_url, issuer=idp.issuer)


def test_rs256_tokens_verify_against_the_jwks(identity_provider: IdentityProvider) -> None:
    principal = _verifier(identity_provider).verify(
        identity_provider.token(scope="building:8号楼 class:建工2401")
    )
    assert principal.role is Role.RESIDENCE_COUNSELOR
    assert [str(g) for g in principal.scope] == ["building:8号楼", "class:建工2401"]


def test_a_token_signed_by_another_key_or_issuer_is_refused(
    identity_provider: IdentityProvider,
) -> None:
    verifier = _verifier(identity_provider)
    with pytest.raises(AuthError):
        verifier.verify(identity_provider.token(signed_by_stranger=True))
    with pytest.raises(AuthError):
        verifier.verify(identity_provider.token(iss="someone-else"))
    with pytest.raises(AuthError, match="claims"):
        verifier.verify(identity_provider.token(role="janitor"))


def test_hs256_tokens_are_not_accepted_when_jwks_is_configured(
    identity_provider: IdentityProvider,
) -> None:
    forged = jwt.encode(
        {
            "sub": "x",
            "role": "counseling_center",
            "campus_id": "demo",
            "iss": identity_provider.issuer,
            "aud": "shouwang",
            "exp": 4102444800,
        },
        "s" * 40,
        algorithm="HS256",
    )
    with pytest.raises(AuthError):
        _verifier(identity_provider).verify(forged)
