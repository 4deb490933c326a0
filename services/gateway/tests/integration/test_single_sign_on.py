"""Signing in through an identity provider: authorization code with PKCE, against a stand-in
provider served over HTTP by the test (discovery, token endpoint that checks the verifier
against the challenge, JWKS), and the gateway's real app on a real PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import asyncpg
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from .conftest import Open

pytestmark = pytest.mark.integration
CLIENT_ID = "shouwang-web"
REDIRECT = "https://gateway.test/auth/oidc/callback"


@dataclass
class Provider:
    """Issues codes for a consenting user, and ID tokens for codes whose verifier matches."""

    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    issuer: str = ""
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    claims: dict[str, Any] = field(
        default_factory=lambda: {
            "sub": "T1002",
            "role": "residence_counselor",
            "campus_id": "demo",
            "shouwang_scope": ["building:8号楼"],
            "name": "测试辅导员乙",
        }
    )
    forge: bool = False

    def consent(self, authorization_url: str) -> str:
        """The user signs in at the provider: a code bound to the request's challenge."""
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(authorization_url).query))
        assert query["code_challenge_method"] == "S256"
        assert query["response_type"] == "code"
        assert query["client_id"] == CLIENT_ID
        code = f"code-{len(self.codes)}"
        self.codes[code] = query
        return f"/auth/oidc/callback?code={code}&state={urllib.parse.quote(query['state'])}"

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        asked = self.codes.pop(form.get("code", ""), None)
        if asked is None:
            return 400, {"error": "invalid_grant"}
        digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != asked["code_challenge"]:
            return 400, {"error": "invalid_grant", "error_description": "PKCE verifier"}
        now = int(time.time())
        payload = {
            **self.claims,
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": asked["nonce"],
        }
        key = (
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
            if self.forge
            else self.key
        )
        id_token = jwt.encode(payload, key, algorithm="RS256", headers={"kid": "idp"})
        return 200, {"access_token": "opaque", "token_type": "Bearer", "id_token": id_token}

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": "idp", "alg": "RS256", "use": "sig"}]}


@pytest.fixture
def provider() -> Iterator[Provider]:
    idp = Provider()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/.well-known/openid-configuration":
                self._answer(
                    200,
                    {
                        "issuer": idp.issuer,
                        "authorization_endpoint": f"{idp.issuer}/authorize",
                        "token_endpoint": f"{idp.issuer}/token",
                        "jwks_uri": f"{idp.issuer}/jwks",
                    },
                )
            elif self.path == "/jwks":
                self._answer(200, idp.jwks())
            else:
                self._answer(404, {})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
            self._answer(*idp.token(form))

        def log_message(self, *args: object) -> None:
            return

    server = HTTPServer(("127.0.0.1", 0), Handler)
    idp.issuer = f"http://127.0.0.1:{server.server_port}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield idp
    finally:
        server.shutdown()
        server.server_close()


def _sso(provider: Provider) -> dict[str, Any]:
    return {
        "oidc_issuer": provider.issuer,
        "oidc_client_id": CLIENT_ID,
        "oidc_redirect_uri": REDIRECT,
    }


async def test_single_sign_on_with_pkce_opens_a_session_with_the_providers_claims(
    open_gateway: Open, provider: Provider
) -> None:
    browser = await open_gateway(**_sso(provider))
    assert (await browser.http.get("/auth/session")).json()["methods"]["oidc"] is True
    start = await browser.http.get("/auth/oidc/start", params={"return_to": "/desk/queue"})
    assert start.status_code == 303
    authorization = start.headers["location"]
    assert authorization.startswith(f"{provider.issuer}/authorize?")
    assert "code_verifier" not in authorization  # only its challenge leaves the gateway
    back = await browser.http.get(provider.consent(authorization))
    assert back.status_code == 303, back.text
    assert back.headers["location"] == "/desk/queue"
    session = (await browser.http.get("/auth/session")).json()
    assert session["signed_in"] is True
    assert session["user"]["sub"] == "T1002"
    assert session["user"]["role"] == "residence_counselor"
    assert session["user"]["scope"] == ["building:8号楼"]


async def test_a_replayed_sign_in_state_is_refused(open_gateway: Open, provider: Provider) -> None:
    browser = await open_gateway(**_sso(provider))
    start = await browser.http.get("/auth/oidc/start")
    callback = provider.consent(start.headers["location"])
    assert (await browser.http.get(callback)).headers["location"] == "/"
    await browser.http.post("/auth/logout", headers=browser.writes())
    browser.http.cookies.clear()
    replay = await browser.http.get(callback)
    assert replay.headers["location"] == "/login?error=sso"
    assert (await browser.http.get("/auth/session")).json()["signed_in"] is False


async def test_a_forged_id_token_is_refused(open_gateway: Open, provider: Provider) -> None:
    browser = await open_gateway(**_sso(provider))
    provider.forge = True
    start = await browser.http.get("/auth/oidc/start")
    answer = await browser.http.get(provider.consent(start.headers["location"]))
    assert answer.headers["location"] == "/login?error=sso"
    assert (await browser.http.get("/auth/session")).json()["signed_in"] is False


async def test_a_code_with_a_stolen_state_but_not_the_verifier_is_refused(
    open_gateway: Open, provider: Provider
) -> None:
    browser = await open_gateway(**_sso(provider))
    start = await browser.http.get("/auth/oidc/start")
    callback = provider.consent(start.headers["location"])
    # An intercepted code is useless without the verifier, which never left the gateway.
    code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(callback).query))["code"]
    status, body = provider.token({"code": code, "code_verifier": "guessed"})
    assert status == 400
    assert body["error"] == "invalid_grant"


async def test_an_unsafe_return_address_is_not_followed(
    open_gateway: Open, provider: Provider
) -> None:
    browser = await open_gateway(**_sso(provider))
    start = await browser.http.get(
        "/auth/oidc/start", params={"return_to": "https://evil.example/"}
    )
    back = await browser.http.get(provider.consent(start.headers["location"]))
    assert back.headers["location"] == "/"


async def test_an_anonymous_flood_of_sign_in_starts_does_not_grow_the_store(
    open_gateway: Open, provider: Provider, gateway_db: str
) -> None:
    """Each start wrote a row (state, verifier, nonce) for ten minutes, with no limit per
    address: a flood filled a table. The sign-in in flight is now the browser's sealed
    cookie, and the gateway keeps nothing until someone has signed in."""
    browser = await open_gateway(**_sso(provider))

    async def rows() -> dict[str, int]:
        conn = await asyncpg.connect(gateway_db)
        try:
            tables = await conn.fetch(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
            )
            return {
                t["table_name"]: await conn.fetchval(
                    f'SELECT count(*) FROM "{t["table_name"]}"'  # noqa: S608 - catalogue names
                )
                for t in tables
            }
        finally:
            await conn.close()

    before = await rows()
    for _ in range(300):
        start = await browser.http.get("/auth/oidc/start")
        assert start.status_code == 303
    assert await rows() == before
    cookie = start.headers["set-cookie"]
    assert cookie.startswith("__Host-shouwang-sso=")
    for attribute in ("HttpOnly", "Secure", "SameSite=lax", "Max-Age=600", "Path=/"):
        assert attribute.lower() in cookie.lower()
    assert "code_verifier" not in cookie
    assert len(cookie) < 2048
    # The last of them still signs in, and its cookie is spent.
    back = await browser.http.get(provider.consent(start.headers["location"]))
    assert back.status_code == 303
    assert back.headers["location"] == "/"
    assert (await browser.http.get("/auth/session")).json()["signed_in"] is True
    assert "__Host-shouwang-sso" not in browser.http.cookies


async def test_a_callback_link_sent_to_another_browser_signs_nobody_in(
    open_gateway: Open, provider: Provider
) -> None:
    """Login CSRF: someone starts a sign-in, consents as themselves and sends the callback
    link to a victim, whose browser would be signed in as them. The sign-in in flight lives
    in the starter's browser only."""
    browser = await open_gateway(**_sso(provider))
    start = await browser.http.get("/auth/oidc/start")
    callback = provider.consent(start.headers["location"])
    browser.http.cookies.clear()  # the victim's browser: no sign-in of its own in flight
    answer = await browser.http.get(callback)
    assert answer.headers["location"] == "/login?error=sso"
    assert (await browser.http.get("/auth/session")).json()["signed_in"] is False


async def test_a_college_grant_on_a_peer_reporter_is_dropped(
    open_gateway: Open, provider: Provider, caplog: pytest.LogCaptureFixture
) -> None:
    """A provider attribute mapped wide (or tampered with) gives a dorm-room leader
    `college:…` and `campus`: the session keeps their room alone, and the drop is logged by
    role and grant kind, never by person or value."""
    provider.claims = {
        "sub": "2024020001",
        "role": "dorm_leader",
        "campus_id": "demo",
        "shouwang_scope": ["college:土木建筑工程学院", "campus", "room:8号楼/202"],
        "name": "测试学生01",
    }
    browser = await open_gateway(**_sso(provider))
    start = await browser.http.get("/auth/oidc/start")
    with caplog.at_level("WARNING", logger="shouwang.grants"):
        back = await browser.http.get(provider.consent(start.headers["location"]))
    assert back.headers["location"] == "/"
    session = (await browser.http.get("/auth/session")).json()
    assert session["user"]["role"] == "dorm_leader"
    assert session["user"]["scope"] == ["room:8号楼/202"]
    dropped = sorted((r.__dict__["role"], r.__dict__["grant_kind"]) for r in caplog.records)
    assert dropped == [("dorm_leader", "campus"), ("dorm_leader", "college")]
    for record in caplog.records:
        assert "2024020001" not in repr(record.__dict__)
        assert "土木" not in repr(record.__dict__)


async def test_a_college_leader_whose_only_grants_are_dropped_is_refused_a_session(
    open_gateway: Open, provider: Provider
) -> None:
    """A college leader mapped to a building instead of a college would sign in to pages
    that show nothing, or (were the building honoured) students of every college there: no
    session, and the sign-in page says why (`error=sso_scope`, not a generic failure)."""
    provider.claims = {
        "sub": "T4001",
        "role": "college_leader",
        "campus_id": "demo",
        "shouwang_scope": ["building:8号楼"],
    }
    browser = await open_gateway(**_sso(provider))
    start = await browser.http.get("/auth/oidc/start")
    back = await browser.http.get(provider.consent(start.headers["location"]))
    assert back.status_code == 303
    assert back.headers["location"] == "/login?error=sso_scope"
    assert (await browser.http.get("/auth/session")).json()["signed_in"] is False
