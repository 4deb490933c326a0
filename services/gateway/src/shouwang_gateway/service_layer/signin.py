"""Signing in and out, and finding the session behind a request.

Local accounts: argon2id-hashed passwords, failed attempts counted per account and per client
address (`domain.throttle`). OIDC: authorization code with PKCE, the ID token's claims naming
role, campus and scope. Either way the result is a fresh session (a new id at every sign-in,
so a planted cookie is never promoted) whose identity the services' tokens carry, holding
only the grants its role may hold (`shouwang_contracts.scopes.ROLE_GRANTS`: the others are
dropped and logged by role and kind); a role left without the grant it needs
(`ROLE_NEEDS`: a college leader's college) is refused a session, with a message saying so.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from authlib.common.security import generate_token
from pydantic import ValidationError
from shouwang_contracts.scopes import ScopeGrant, lacks_what_it_needs, log_dropped, narrow_grants
from shouwang_contracts.vocabulary import Role

from ..adapters.oidc import OidcError, OidcProvider
from ..adapters.passwords import Passwords
from ..adapters.pending import PendingSeal, PendingSignIn
from ..adapters.store import GatewayStore
from ..adapters.tokens import TokenMinter
from ..domain import throttle
from ..domain.navigation import safe_return_to
from ..domain.sessions import (
    Identity,
    Session,
    SessionPolicy,
    hash_session_id,
    new_csrf_token,
    new_session_id,
)

logger = logging.getLogger(__name__)


class SignInRefused(Exception):
    """A sign-in that did not succeed: becomes a problem+json answer."""

    def __init__(
        self, status: int, code: str, zh: str, en: str, retry_after: int | None = None
    ) -> None:
        super().__init__(en)
        self.status = status
        self.code = code
        self.zh = zh
        self.en = en
        self.retry_after = retry_after


def _now() -> datetime:
    return datetime.now(UTC)


def scope_missing(role: Role) -> SignInRefused:
    """403 `scope_missing`: the role cannot work without a grant it was not given."""
    return SignInRefused(
        403,
        "scope_missing",
        f"您的账号以“{role.label()}”身份登录，但未关联所负责的范围（二级学院领导须关联学院），"
        "暂时无法登录；请联系校区管理员核对账号配置",
        f"Your account signs in as {role.label('en')} but is linked to none of the scope the "
        "role needs (a college leader needs a college); ask your campus administrator",
    )


def narrowed(identity: Identity, method: str) -> Identity:
    """The identity with the grants its role may hold only; refused (`scope_missing`) when
    the role is left without what it needs. A drop is logged by role and grant kind."""
    kept, dropped = narrow_grants(identity.role, (ScopeGrant.parse(g) for g in identity.scope))
    if dropped:
        log_dropped(identity.role, dropped, f"{method} sign-in")
    if lacks_what_it_needs(identity.role, kept):
        logger.warning(
            "sign-in refused: no grant the role needs",
            extra={"method": method, "role": identity.role.value},
        )
        raise scope_missing(identity.role)
    return replace(identity, scope=tuple(str(g) for g in kept))


@dataclass(frozen=True, slots=True)
class SignInStarted:
    """Where to send the browser, and the sealed sign-in its cookie carries until it returns."""

    url: str
    pending: str


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A new session: the cookie's value and what it stands for."""

    session_id: str
    session: Session
    return_to: str = "/"


@dataclass
class SignIns:
    """The sign-in use cases."""

    store: GatewayStore
    passwords: Passwords
    minter: TokenMinter
    policy: SessionPolicy
    per_account: throttle.Limit
    per_address: throttle.Limit
    pending_seal: PendingSeal
    oidc: OidcProvider | None = None
    oidc_claims: dict[str, str] | None = None

    async def local(self, campus_id: str, username: str, password: str, address: str) -> SignedIn:
        """Check a local account's password; refuse while either key is over its limit."""
        now = _now()
        account_key = throttle.account_key(campus_id, username)
        address_key = throttle.address_key(address)
        since = now - max(self.per_account.window, self.per_address.window)
        failures = await self.store.failures([account_key, address_key], since)
        wait = max(
            self.per_account.retry_after(failures[account_key], now) or 0,
            self.per_address.retry_after(failures[address_key], now) or 0,
        )
        if wait:
            raise SignInRefused(
                429,
                "too_many_attempts",
                f"登录失败次数过多，请 {max(1, wait // 60)} 分钟后再试",
                f"Too many failed sign-ins; try again in {max(1, wait // 60)} min",
                retry_after=wait,
            )
        account = await self.store.account(campus_id, username)
        valid = self.passwords.verify(account.password_hash if account else None, password)
        if account is None or not valid or account.disabled:
            await self.store.record_failure([account_key, address_key], now)
            logger.info("local sign-in refused", extra={"campus_id": campus_id})
            raise SignInRefused(
                401,
                "invalid_credentials",
                "校区、用户名或密码不正确",
                "Wrong campus, username or password",
            )
        await self.store.clear_failures(account_key)
        if self.passwords.needs_rehash(account.password_hash):
            await self.store.update_password_hash(
                campus_id, account.username, self.passwords.hash(password)
            )
        identity = Identity(
            sub=account.sub,
            role=account.role,
            campus_id=account.campus_id,
            scope=account.scope,
            display_name=account.display_name,
        )
        return await self._open(identity, "local")

    async def _open(self, identity: Identity, method: str, return_to: str = "/") -> SignedIn:
        identity = narrowed(identity, method)
        session_id = new_session_id()
        session = await self.store.create_session(
            hash_session_id(session_id),
            identity,
            "oidc" if method == "oidc" else "local",
            new_csrf_token(),
            self.policy.expires_at(_now()),
        )
        logger.info("signed in", extra={"method": method, "role": identity.role.value})
        return SignedIn(session_id, session, return_to)

    async def resolve(self, session_id: str | None) -> Session | None:
        """The live session behind a cookie value, or None (expired ones are removed)."""
        if not session_id or len(session_id) > 128:
            return None
        id_hash = hash_session_id(session_id)
        session = await self.store.session(id_hash)
        if session is None:
            return None
        now = _now()
        if not session.is_live(now, self.policy):
            await self.store.delete_session(id_hash)
            self.minter.forget(id_hash)
            return None
        if session.needs_touch(now):
            await self.store.touch_session(id_hash, now)
        return session

    async def sign_out(self, session: Session) -> None:
        await self.store.delete_session(session.id_hash)
        self.minter.forget(session.id_hash)

    # --- OIDC ----------------------------------------------------------------------------

    def _provider(self) -> OidcProvider:
        if self.oidc is None:
            raise SignInRefused(
                404,
                "oidc_not_configured",
                "本校区未启用统一身份认证登录",
                "Single sign-on is not configured",
            )
        return self.oidc

    async def start_oidc(self, return_to: str | None) -> SignInStarted:
        """Where to send the browser: the provider's authorization URL for a new sign-in, and
        the sign-in sealed for the browser's cookie (nothing is stored: an anonymous flood of
        starts costs the gateway no row)."""
        provider = self._provider()
        pending = PendingSignIn(
            state=secrets.token_urlsafe(32),
            code_verifier=generate_token(64),
            nonce=secrets.token_urlsafe(32),
            return_to=safe_return_to(return_to),
            created_at=_now(),
        )
        url = await provider.authorization_url(
            state=pending.state, code_verifier=pending.code_verifier, nonce=pending.nonce
        )
        return SignInStarted(url, self.pending_seal.seal(pending))

    async def finish_oidc(self, state: str, code: str, sealed: str | None) -> SignedIn:
        """The provider sent the browser back: the sign-in its cookie carries must be this
        state's and fresh; then exchange the code, check the ID token."""
        provider = self._provider()
        pending = self.pending_seal.open(sealed, state, _now())
        if pending is None:
            raise SignInRefused(
                400,
                "oidc_state_unknown",
                "登录请求已失效，请重新登录",
                "This sign-in expired or was already used; sign in again",
            )
        try:
            claims = await provider.identity(
                code=code, code_verifier=pending.code_verifier, nonce=pending.nonce
            )
            identity = self._identity_from(claims)
        except (OidcError, ValueError, ValidationError) as exc:
            logger.warning("OIDC sign-in refused", extra={"reason": str(exc)[:200]})
            raise SignInRefused(
                401,
                "oidc_refused",
                "统一身份认证未通过，请重新登录或联系管理员",
                "Single sign-on failed; sign in again or ask your administrator",
            ) from exc
        return await self._open(identity, "oidc", pending.return_to)

    def _identity_from(self, claims: dict[str, Any]) -> Identity:
        names = self.oidc_claims or {}
        raw_scope = claims.get(names.get("scope", "shouwang_scope")) or []
        if isinstance(raw_scope, str):
            raw_scope = raw_scope.split()
        scope = tuple(str(ScopeGrant.parse(str(g))) for g in raw_scope)
        campus = str(claims.get(names.get("campus", "campus_id")) or "")
        sub = str(claims.get(names.get("sub", "sub")) or "")
        if not campus or not sub:
            raise ValueError("the ID token names no campus or subject")
        return Identity(
            sub=sub,
            role=Role(str(claims.get(names.get("role", "role")))),
            campus_id=campus,
            scope=scope,
            display_name=str(claims.get(names.get("name", "name")) or "")[:64],
        )
