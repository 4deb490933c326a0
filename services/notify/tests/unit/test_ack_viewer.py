"""The acknowledgement pages' check of a signed-in viewer (`http_ack._viewer`)."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

from fastapi import Request
from shouwang_contracts.auth import AuthError, Principal
from shouwang_contracts.vocabulary import Role
from shouwang_notify.entrypoints import http_ack


class NetworkVerifier:
    """A production verifier's shape: verifying may fetch the identity provider's keys."""

    needs_network = True

    def __init__(self) -> None:
        self.threads: list[int] = []

    def verify(self, token: str) -> Principal:
        self.threads.append(threading.get_ident())
        if token != "good":
            raise AuthError("invalid token")
        return Principal(sub="T1001", role=Role.RESIDENCE_COUNSELOR, campus_id="demo")


def _request(verifier: NetworkVerifier, token: str) -> Request:
    app = SimpleNamespace(state=SimpleNamespace(token_verifier=verifier))
    headers = [(b"authorization", f"Bearer {token}".encode())]
    return Request({"type": "http", "headers": headers, "app": app})


NOTIFY: Any = SimpleNamespace(
    pseudonyms=SimpleNamespace(person_ref=lambda campus, sub: f"{campus}/{sub}")
)


async def test_ack_page_viewer_token_is_verified_off_the_event_loop() -> None:
    """Anyone may open `/ack/...` with any bearer token: with a JWKS, verifying it may wait on
    the identity provider, which must never stall the loop that delivers alerts."""
    verifier = NetworkVerifier()
    assert await http_ack._viewer(NOTIFY, _request(verifier, "good")) == "demo/T1001"
    assert await http_ack._viewer(NOTIFY, _request(verifier, "forged")) is None
    assert len(verifier.threads) == 2
    assert threading.get_ident() not in verifier.threads
