"""Who is calling: JWT bearer tokens turned into a `Principal`.

Local use signs tokens with HS256 and a configured secret (`shouwang-token` mints them);
production verifies RS256 tokens against the identity provider's JWKS, fetched over https and
fetched again every `jwks_refresh_seconds` and when a token names a key id the cached set lacks
(at most once per `unknown_key_refetch_seconds`, so tokens with made-up key ids cannot make
every request a fetch), so a key the provider withdrew stops opening doors within that interval. Claims: `sub`,
`role` (a tier or staff role), `campus_id`, optional `scope` (list of `kind:value` grants),
`exp`, and `iat` (a token older than `max_age_seconds` is refused, whatever its `exp`).

A grant is honoured only if the token's role may hold it (`ROLE_GRANTS`): whatever an identity
provider's mapping or a minted token says, a `Principal` never carries a grant its role may
not hold. The gateway applies the same table when it turns a provider's claims into a
session (and refuses a session left without what its role needs, `ROLE_NEEDS`); the services
apply it again here, where every token becomes a `Principal`.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from typing import Any

import jwt
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from .scopes import Placement as Placement
from .scopes import ScopeGrant as ScopeGrant
from .scopes import ScopeKind as ScopeKind
from .scopes import log_dropped, narrow_grants
from .vocabulary import Role, Tier

DEFAULT_ISSUER = "shouwang-local"
DEFAULT_AUDIENCE = "shouwang"
MIN_SECRET_BYTES = 32
#: How often the JWKS is fetched again (seconds): the longest a withdrawn key still works.
DEFAULT_JWKS_REFRESH_SECONDS = 300.0
#: The oldest token accepted (seconds since its `iat`), however far away its `exp`.
DEFAULT_MAX_AGE_SECONDS = 12 * 3600
#: The least time between two fetches of the JWKS forced by key ids the cached set lacks: a
#: rotated key is fetched at once, but a stranger's made-up key ids cannot turn every request
#: into a fetch from the identity provider (and a thread waiting on it).
DEFAULT_UNKNOWN_KEY_REFETCH_SECONDS = 10.0
_VERIFIED_CACHE_SIZE = 10_000


class Principal(BaseModel):
    """The authenticated caller."""

    model_config = ConfigDict(frozen=True)

    sub: str = Field(min_length=1, max_length=128)
    role: Role
    campus_id: str = Field(min_length=1, max_length=64)
    scope: tuple[ScopeGrant, ...] = ()
    token_id: str | None = None

    @field_validator("scope")
    @classmethod
    def _only_grants_the_role_may_hold(
        cls, scope: tuple[ScopeGrant, ...], info: ValidationInfo
    ) -> tuple[ScopeGrant, ...]:
        """A grant the role may not hold (`ROLE_GRANTS`) is dropped, never honoured, and
        logged: a `campus` or `college` grant on a dorm-room leader (an identity provider's
        mapping gone wide, or a token minted carelessly) would let them list the names and
        rooms of every student it covers."""
        role = info.data.get("role")
        if not isinstance(role, Role):
            return scope
        kept, dropped = narrow_grants(role, scope)
        if dropped:
            log_dropped(role, dropped, "token")
        return kept

    @property
    def tier(self) -> Tier | None:
        return self.role.tier

    @property
    def campus_wide(self) -> bool:
        """Tier 6, campus admins and holders of a `campus` grant see the whole campus."""
        return self.role in (Role.COUNSELING_CENTER, Role.CAMPUS_ADMIN) or any(
            g.kind is ScopeKind.CAMPUS for g in self.scope
        )

    def covers(self, placement: Placement) -> bool:
        """Whether this caller's scope includes a student placed there."""
        return self.campus_wide or any(placement.matches(g) for g in self.scope)


class AuthError(Exception):
    """The token is missing, malformed, expired, or not ours."""


class TokenVerifier:
    """Verifies bearer tokens: HS256 with a shared secret, or RS256 via a JWKS URL."""

    def __init__(
        self,
        *,
        secret: str | None = None,
        jwks_url: str | None = None,
        issuer: str = DEFAULT_ISSUER,
        audience: str = DEFAULT_AUDIENCE,
        leeway_seconds: int = 30,
        jwks_refresh_seconds: float = DEFAULT_JWKS_REFRESH_SECONDS,
        max_age_seconds: int = DEFAULT_MAX_AGE_SECONDS,
        require_https: bool = False,
        unknown_key_refetch_seconds: float = DEFAULT_UNKNOWN_KEY_REFETCH_SECONDS,
    ) -> None:
        if not secret and not jwks_url:
            raise ValueError("configure a JWT secret (local) or a JWKS URL (production)")
        if secret and len(secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"JWT secret must be at least {MIN_SECRET_BYTES} bytes")
        if require_https:
            if not jwks_url:
                raise ValueError("production verifies RS256 tokens against a JWKS: HS256 refused")
            if not jwks_url.lower().startswith("https://"):
                raise ValueError("the JWKS must be fetched over https in production")
        self._secret = secret
        # No per-key cache (PyJWT's `cache_keys` keeps a key forever, so a withdrawn key would
        # go on verifying): the whole set is cached for `jwks_refresh_seconds`. A key id it
        # lacks is looked up by `_signing_key`, which fetches again itself: PyJWT's cooldown
        # counts from every fetch, so a rotation right after a periodic fetch would wait.
        self._jwks = (
            jwt.PyJWKClient(
                jwks_url,
                cache_keys=False,
                lifespan=jwks_refresh_seconds,
                cooldown_duration=0,
                timeout=10,
            )
            if jwks_url
            else None
        )
        self._refetch_interval = unknown_key_refetch_seconds
        self._next_refetch = 0.0
        self._refetch_lock = threading.Lock()
        # A verified token is remembered no longer than the key set it was checked against.
        self._remember_seconds = jwks_refresh_seconds if jwks_url else float("inf")
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway_seconds
        self._max_age = max_age_seconds
        # Verified tokens, until their expiry: a phone sends the same token many times, and
        # signature checks are the costliest part of a small request. Bounded, oldest first out.
        self._verified: OrderedDict[str, tuple[float, Principal]] = OrderedDict()

    @property
    def needs_network(self) -> bool:
        """True when verification may fetch keys (call it off the event loop)."""
        return self._jwks is not None

    def verify(self, token: str) -> Principal:
        remembered = self._verified.get(token)
        if remembered is not None:
            expires, principal = remembered
            if time.time() < expires:
                return principal
            del self._verified[token]
        principal, expires = self._verify(token)
        self._verified[token] = (min(expires, time.time() + self._remember_seconds), principal)
        if len(self._verified) > _VERIFIED_CACHE_SIZE:
            self._verified.popitem(last=False)
        return principal

    def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            if self._jwks is not None:
                key: Any = self._signing_key(self._jwks, token)
                algorithms = ["RS256"]
            else:
                key = self._secret
                algorithms = ["HS256"]
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["sub", "exp", "iss", "aud", "iat"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("token expired") from exc
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token: {exc}") from exc
        issued = float(claims["iat"])
        if time.time() - issued > self._max_age + self._leeway:
            raise AuthError(f"token older than {self._max_age} s; sign in again")
        expires = min(float(claims["exp"]), issued + self._max_age + self._leeway)
        return principal_from_claims(claims), expires

    def _signing_key(self, jwks: jwt.PyJWKClient, token: str) -> Any:
        """The key the token's `kid` names: from the cached set, else from a set fetched again
        unless a fetch was forced less than `unknown_key_refetch_seconds` ago."""
        kid = jwt.get_unverified_header(token).get("kid")
        for jwk in jwks.get_signing_keys():
            if jwk.key_id == kid:
                return jwk.key
        with self._refetch_lock:
            now = time.monotonic()
            refetch = now >= self._next_refetch
            if refetch:
                self._next_refetch = now + self._refetch_interval
        if refetch:
            for jwk in jwks.get_signing_keys(refresh=True):
                if jwk.key_id == kid:
                    return jwk.key
        raise jwt.PyJWKClientError("no signing key of the identity provider has this key id")


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    raw_scope = claims.get("scope") or []
    if isinstance(raw_scope, str):
        raw_scope = raw_scope.split()
    # Another provider's shape (a number, a list of lists) is a token we cannot use: a 401,
    # never an error escaping as a 500.
    if not isinstance(raw_scope, list) or not all(isinstance(g, str) for g in raw_scope):
        raise AuthError("token claims are not usable: scope must be text or a list of text")
    try:
        return Principal(
            sub=claims["sub"],
            role=Role(str(claims.get("role"))),
            campus_id=claims.get("campus_id"),
            scope=tuple(ScopeGrant.parse(item) for item in raw_scope),
            token_id=claims.get("jti"),
        )
    except (ValueError, ValidationError, KeyError) as exc:
        raise AuthError(f"token claims are not usable: {exc}") from exc


def mint_token(
    secret: str,
    *,
    sub: str,
    role: Role,
    campus_id: str,
    scope: list[str] | None = None,
    ttl_seconds: int = 8 * 3600,
    issuer: str = DEFAULT_ISSUER,
    audience: str = DEFAULT_AUDIENCE,
) -> str:
    """A local HS256 token, for development and tests only."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": sub,
        "role": role.value,
        "campus_id": campus_id,
        "scope": scope or [],
        "iat": now,
        "exp": now + ttl_seconds,
        "iss": issuer,
        "aud": audience,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, secret, algorithm="HS256")
