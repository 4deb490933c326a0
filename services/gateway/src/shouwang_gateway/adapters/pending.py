"""An OIDC sign-in in flight, carried by the browser that started it, sealed.

Between the redirect to the identity provider and its return the gateway must remember the
sign-in's state, PKCE verifier, nonce and where to go afterwards. A row per start let any
anonymous flood of `/auth/oidc/start` fill a table (a per-address limit would throttle a whole
campus behind one NAT); a cookie costs the gateway nothing to keep, however many starts come.
It is what Authlib's own web clients do (they keep these in the session): here the cookie is
AES-256-GCM (`cryptography`) under a key of its own derived from the gateway's signing secret
(HKDF), so the browser can neither read the verifier nor change a field; it says when it was
made and is refused ten minutes later; it is bound to the state the provider sends back and
cleared by the return, whose code the provider takes once only. Being the browser's, it also
stops login CSRF: a callback URL sent to someone else finds no sign-in of theirs to finish.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

#: How long a started sign-in may take at the identity provider.
PENDING_SECONDS = 600
#: Binds the ciphertext to its use: a value sealed for anything else never opens here.
_PURPOSE = b"shouwang-gateway oidc-pending v1"
_NONCE_BYTES = 12
#: Larger than any value `seal` writes (return_to is at most 512 characters): not decoded.
MAX_SEALED_CHARS = 4096


@dataclass(frozen=True, slots=True)
class PendingSignIn:
    """An OIDC sign-in waiting for the identity provider to send the browser back."""

    state: str
    code_verifier: str
    nonce: str
    return_to: str
    created_at: datetime


class PendingSeal:
    """Seals a `PendingSignIn` into a cookie value and opens it again."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise ValueError("the sign-in cookie's secret needs at least 32 bytes")
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_PURPOSE).derive(secret)
        self._aead = AESGCM(key)

    def seal(self, pending: PendingSignIn) -> str:
        plain = json.dumps(
            {
                "s": pending.state,
                "v": pending.code_verifier,
                "n": pending.nonce,
                "r": pending.return_to,
                "t": pending.created_at.timestamp(),
            },
            separators=(",", ":"),
        ).encode()
        nonce = os.urandom(_NONCE_BYTES)
        sealed = nonce + self._aead.encrypt(nonce, plain, _PURPOSE)
        return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode()

    def open(self, value: str | None, state: str, now: datetime) -> PendingSignIn | None:
        """The sign-in the browser carries, if it is this `state`'s, intact and not expired;
        None for anything else (missing, altered, another key's, stale, another state's)."""
        if not value or len(value) > MAX_SEALED_CHARS:
            return None
        try:
            sealed = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            plain = self._aead.decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], _PURPOSE)
            fields = json.loads(plain)
            pending = PendingSignIn(
                state=str(fields["s"]),
                code_verifier=str(fields["v"]),
                nonce=str(fields["n"]),
                return_to=str(fields["r"]),
                created_at=datetime.fromtimestamp(float(fields["t"]), UTC),
            )
        except (binascii.Error, ValueError, InvalidTag, KeyError, TypeError):
            return None
        age = (now - pending.created_at).total_seconds()
        # A little before "now" too: replicas' clocks differ by a few seconds.
        if not -30 <= age <= PENDING_SECONDS:
            return None
        if not hmac.compare_digest(pending.state.encode(), state.encode()):
            return None
        return pending
