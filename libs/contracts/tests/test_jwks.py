"""Production tokens: RS256 verified against the identity provider's JWKS over HTTP."""

from __future__ import annotations

import time

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


def test_a_withdrawn_signing_key_stops_verifying_within_the_refresh_interval(
    identity_provider: IdentityProvider,
) -> None:
    """A provider that withdraws a leaked key must not see it go on opening doors: the JWKS
    is fetched again on its interval, and at once for a key id it does not hold yet."""
    verifier = TokenVerifier(
        jwks_url=identity_provider.jwks_url,
        issuer=identity_provider.issuer,
        jwks_refresh_seconds=0.5,
    )
    leaked = identity_provider.token()
    assert verifier.verify(leaked).role is Role.RESIDENCE_COUNSELOR
    identity_provider.rotate()
    # The new key works at once: its unknown key id makes the verifier fetch the set again.
    assert verifier.verify(identity_provider.token(sub="T2002")).sub == "T2002"
    deadline = time.monotonic() + 15
    refused = False
    while time.monotonic() < deadline and not refused:
        try:
            verifier.verify(leaked)
        except AuthError:
            refused = True
        else:
            time.sleep(0.1)
    assert refused, "a token signed with the withdrawn key still verifies"


def test_a_token_older_than_the_maximum_age_is_refused_whatever_its_expiry(
    identity_provider: IdentityProvider,
) -> None:
    now = int(time.time())
    stale = identity_provider.token(iat=now - 13 * 3600, exp=now + 3600)
    with pytest.raises(AuthError, match="older than"):
        _verifier(identity_provider).verify(stale)
    undated = identity_provider.token(iat=None)
    with pytest.raises(AuthError):
        _verifier(identity_provider).verify(undated)


def test_production_refuses_a_jwks_over_http_and_hs256() -> None:
    with pytest.raises(ValueError, match="https"):
        TokenVerifier(jwks_url="http://idp.example.edu.cn/jwks", require_https=True)
    with pytest.raises(ValueError, match="HS256"):
        TokenVerifier(secret="s" * 40, require_https=True)


def test_forged_key_ids_cannot_make_every_request_fetch_the_jwks(
    identity_provider: IdentityProvider,
) -> None:
    """A stranger sending tokens with made-up key ids must not turn each request into a fetch
    from the identity provider (a flood of the provider, and of the threads verification
    waits on, which staff's requests need too): a key id the cached set lacks fetches it
    again at most once per interval."""
    verifier = _verifier(identity_provider)
    assert verifier.verify(identity_provider.token()).sub == "T1001"
    before = identity_provider.fetches
    for i in range(30):
        forged = jwt.encode(
            {"sub": "x", "role": "counseling_center", "campus_id": "demo"},
            identity_provider.stranger_key,
            algorithm="RS256",
            headers={"kid": f"forged-{i}"},
        )
        with pytest.raises(AuthError):
            verifier.verify(forged)
    assert identity_provider.fetches - before <= 1
    # The provider's own tokens still verify from the cached set.
    assert verifier.verify(identity_provider.token(sub="T1002")).sub == "T1002"
