"""A browser session: who signed in, until when, and the token that guards its writes.

The cookie holds a random id; the gateway stores only its SHA-256. The session carries what
the services' tokens need (sub, role, campus, scope) and a CSRF token the web app sends back
in `X-CSRF-Token` with every request that changes something.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from shouwang_contracts.vocabulary import Role

SignInMethod = Literal["local", "oidc"]
# Refresh `last_seen_at` at most this often: a busy page must not write on every request.
TOUCH_EVERY = timedelta(minutes=1)


def new_session_id() -> str:
    """256 random bits, URL-safe: the cookie's value."""
    return secrets.token_urlsafe(32)


def hash_session_id(session_id: str) -> bytes:
    """What the store keeps instead of the id."""
    return hashlib.sha256(session_id.encode()).digest()


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class Identity:
    """A signed-in person as the services' tokens describe them."""

    sub: str
    role: Role
    campus_id: str
    scope: tuple[str, ...] = ()
    display_name: str = ""


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """How long a session lives at most, and how long it may sit idle."""

    lifetime: timedelta
    idle: timedelta

    def expires_at(self, created_at: datetime) -> datetime:
        return created_at + self.lifetime


@dataclass(frozen=True, slots=True)
class Session:
    """A stored session."""

    id_hash: bytes
    identity: Identity
    method: SignInMethod
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime

    def is_live(self, now: datetime, policy: SessionPolicy) -> bool:
        """Not past its lifetime, and used within the idle limit."""
        return now < self.expires_at and now - self.last_seen_at < policy.idle

    def needs_touch(self, now: datetime) -> bool:
        return now - self.last_seen_at >= TOUCH_EVERY

    def csrf_matches(self, presented: str | None) -> bool:
        """Constant-time comparison of the header's token with the session's."""
        return presented is not None and hmac.compare_digest(
            presented.encode(), self.csrf_token.encode()
        )
