"""Signing in and out through the real gateway app on a real PostgreSQL, and what a session
lets through to the services. Each security test is named after the threat it stops."""

from __future__ import annotations

from typing import Any

import pytest
from shouwang_contracts.auth import TokenVerifier
from shouwang_gateway.domain.sessions import hash_session_id

from .conftest import ORIGIN, PASSWORD, Open, echo_service

pytestmark = pytest.mark.integration
COOKIE = "__Host-shouwang-session"


async def test_sign_in_sets_an_http_only_strict_secure_cookie_and_no_bearer_token(
    open_gateway: Open,
) -> None:
    browser = await open_gateway()
    answer = await browser.sign_in()
    assert answer.status_code == 200, answer.text
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    for attribute in ("HttpOnly", "Secure", "SameSite=strict", "Path=/"):
        assert attribute.lower() in cookie.lower()
    assert "domain=" not in cookie.lower()
    body = answer.json()
    assert body["user"]["role"] == "dorm_leader"
    assert body["user"]["role_label"] == "寝室长"
    assert "Bearer" not in answer.text
    assert "eyJ" not in answer.text  # no JWT of any kind reaches the browser
    assert answer.headers["cache-control"] == "no-store"
    session = await browser.http.get("/auth/session")
    assert session.json()["signed_in"] is True
    assert session.json()["csrf_token"] == body["csrf_token"]


async def test_wrong_password_and_unknown_account_get_the_same_answer(open_gateway: Open) -> None:
    browser = await open_gateway()
    wrong = await browser.sign_in(password="not-the-password")
    unknown = await browser.sign_in(username="nobody")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["code"] == unknown.json()["code"] == "invalid_credentials"
    assert wrong.json()["detail"] == unknown.json()["detail"] == "校区、用户名或密码不正确"
    assert "set-cookie" not in wrong.headers


async def test_password_guessing_is_throttled_per_account_even_with_the_right_password(
    open_gateway: Open,
) -> None:
    browser = await open_gateway(signin_failures_per_account=3)
    for _ in range(3):
        assert (await browser.sign_in(password="guess-guess-guess")).status_code == 401
    refused = await browser.sign_in(password=PASSWORD)
    assert refused.status_code == 429
    assert refused.json()["code"] == "too_many_attempts"
    assert int(refused.headers["retry-after"]) > 0
    # Another account from the same address is not locked out by this one's failures.
    assert (await browser.sign_in(username="counselor")).status_code == 200


async def test_password_spraying_from_one_address_is_throttled(open_gateway: Open) -> None:
    browser = await open_gateway(signin_failures_per_address=4)
    for name in ("a1", "a2", "a3", "a4"):
        assert (await browser.sign_in(username=name)).status_code == 401
    assert (await browser.sign_in(username="counselor")).status_code == 429


async def test_session_fixation_a_planted_cookie_is_replaced_at_sign_in(open_gateway: Open) -> None:
    browser = await open_gateway()
    browser.http.cookies.set(COOKIE, "planted-by-an-attacker", domain="gateway.test")
    answer = await browser.sign_in()
    issued = answer.cookies.get(COOKIE)
    assert issued
    assert issued != "planted-by-an-attacker"


async def test_login_from_another_site_is_refused(open_gateway: Open) -> None:
    browser = await open_gateway()
    answer = await browser.http.post(
        "/auth/login",
        json={"campus_id": "demo", "username": "dorm", "password": PASSWORD},
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert answer.status_code == 403
    assert answer.json()["code"] == "cross_site_request"


async def test_cross_site_request_forgery_without_the_csrf_token_is_refused(
    open_gateway: Open,
) -> None:
    browser = await open_gateway(upstreams={"intake": echo_service})
    await browser.sign_in()
    forged = await browser.http.post(
        "/api/intake/v1/reports",
        json={"campus_id": "demo"},
        headers={"Origin": ORIGIN, "Sec-Fetch-Site": "same-origin"},
    )
    assert forged.status_code == 403
    assert forged.json()["code"] == "csrf_token_invalid"
    from_elsewhere = await browser.http.post(
        "/api/intake/v1/reports",
        json={"campus_id": "demo"},
        headers={
            **browser.writes(),
            "Origin": "https://evil.example",
            "Sec-Fetch-Site": "cross-site",
        },
    )
    assert from_elsewhere.status_code == 403
    assert from_elsewhere.json()["code"] == "cross_site_request"
    allowed = await browser.http.post(
        "/api/intake/v1/reports", json={"campus_id": "demo"}, headers=browser.writes()
    )
    assert allowed.status_code == 201


async def test_browser_cookies_and_authorization_never_reach_a_service(
    open_gateway: Open, devstack_env: dict[str, str]
) -> None:
    browser = await open_gateway(upstreams={"casework": echo_service})
    await browser.sign_in(username="counselor")
    answer = await browser.http.get(
        "/api/casework/v1/cases?mine=true",
        headers={
            "Authorization": "Bearer forged",
            "X-Internal": "1",
            "Accept-Language": "en",
        },
    )
    assert answer.status_code == 201
    seen: dict[str, Any] = answer.json()
    assert seen["path"] == "/v1/cases"
    assert seen["query"] == "mine=true"
    headers = seen["headers"]
    assert "cookie" not in headers
    assert "x-internal" not in headers
    assert headers["accept-language"] == "en"
    principal = TokenVerifier(secret=devstack_env["SHOUWANG_JWT_SECRET"]).verify(
        headers["authorization"].removeprefix("Bearer ")
    )
    assert (principal.sub, principal.role.value) == ("T1002", "residence_counselor")
    # Nothing of the service's own headers but the allowed ones comes back; Location is ours.
    assert "set-cookie" not in answer.headers
    assert "x-internal" not in answer.headers
    assert answer.headers["location"] == "/api/casework/v1/things/1"
    assert answer.headers["cache-control"] == "no-store"


async def test_a_request_without_a_session_never_reaches_a_service(open_gateway: Open) -> None:
    browser = await open_gateway(upstreams={"casework": echo_service})
    answer = await browser.http.get("/api/casework/v1/cases")
    assert answer.status_code == 401
    assert answer.json()["code"] == "session_required"
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert (await browser.http.get("/api/nowhere/v1/x")).status_code == 404


async def test_signed_out_session_cookie_cannot_be_replayed(
    open_gateway: Open, gateway_store: Any
) -> None:
    browser = await open_gateway(upstreams={"casework": echo_service})
    await browser.sign_in(username="counselor")
    stolen = browser.http.cookies.get(COOKIE)
    assert stolen is not None
    out = await browser.http.post("/auth/logout", headers=browser.writes())
    assert out.status_code == 204
    assert await gateway_store.session(hash_session_id(stolen)) is None
    replay = await browser.http.get(
        "/api/casework/v1/cases", headers={"Cookie": f"{COOKIE}={stolen}"}
    )
    assert replay.status_code == 401


async def test_sign_out_from_another_site_is_refused(open_gateway: Open) -> None:
    browser = await open_gateway()
    await browser.sign_in()
    answer = await browser.http.post(
        "/auth/logout", headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
    )
    assert answer.status_code == 403
    assert (await browser.http.get("/auth/session")).json()["signed_in"] is True


async def test_a_stolen_session_table_opens_no_session(
    open_gateway: Open, gateway_store: Any
) -> None:
    browser = await open_gateway(upstreams={"casework": echo_service})
    await browser.sign_in(username="counselor")
    cookie = browser.http.cookies.get(COOKIE)
    assert cookie is not None
    rows = await gateway_store._pool.fetch("SELECT id_hash FROM sessions")
    assert [bytes(r["id_hash"]) for r in rows] == [hash_session_id(cookie)]
    leaked = bytes(rows[0]["id_hash"]).hex()
    answer = await browser.http.get(
        "/api/casework/v1/cases", headers={"Cookie": f"{COOKIE}={leaked}"}
    )
    assert answer.status_code == 401


async def test_an_idle_session_expires(open_gateway: Open, gateway_store: Any) -> None:
    browser = await open_gateway(upstreams={"casework": echo_service})
    await browser.sign_in(username="counselor")
    await gateway_store._pool.execute(
        "UPDATE sessions SET last_seen_at = now() - interval '2 hours'"
    )
    assert (await browser.http.get("/api/casework/v1/cases")).status_code == 401
    assert await gateway_store._pool.fetchval("SELECT count(*) FROM sessions") == 0


async def test_a_service_that_is_down_is_a_clear_502(open_gateway: Open) -> None:
    browser = await open_gateway(upstreams={"intake": "http://127.0.0.1:9"})
    await browser.sign_in()
    answer = await browser.http.get("/api/intake/v1/reports/00000000-0000-0000-0000-000000000000")
    assert answer.status_code == 502
    assert answer.json()["code"] == "service_unavailable"
    english = await browser.http.get("/api/intake/v1/reports/x", headers={"Accept-Language": "en"})
    assert "cannot be reached" in english.json()["detail"]


async def test_the_web_app_is_served_with_security_headers_and_its_routes_fall_back(
    open_gateway: Open,
) -> None:
    browser = await open_gateway()
    page = await browser.http.get("/desk/queue")
    assert page.status_code == 200
    assert "守望" in page.text
    assert page.headers["cache-control"] == "no-cache"
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    asset = await browser.http.get("/assets/app-1234.js")
    assert "immutable" in asset.headers["cache-control"]
    assert (await browser.http.get("/assets/missing.js")).status_code == 404


@pytest.mark.parametrize(
    "path", ["/..%2f..%2fetc/passwd", "/assets/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/hosts"]
)
async def test_path_traversal_out_of_the_web_root_is_refused(open_gateway: Open, path: str) -> None:
    browser = await open_gateway()
    answer = await browser.http.get(path)
    assert "root:" not in answer.text
    assert "localhost" not in answer.text


async def test_the_campus_directory_is_public_and_jwks_is_empty_for_hs256(
    open_gateway: Open,
) -> None:
    browser = await open_gateway()
    directory = (await browser.http.get("/auth/campuses")).json()
    assert [c["campus_id"] for c in directory["campuses"]] == ["demo"]
    assert {n["phone"] for n in directory["everywhere"]} >= {"110", "120"}
    assert (await browser.http.get("/.well-known/jwks.json")).json() == {"keys": []}
    assert (await browser.http.get("/healthz")).status_code == 200
    assert (await browser.http.get("/readyz")).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/api/casework/v1/%2e%2e/metrics",
        "/api/casework/v1/cases/%2E%2E/%2e%2e/openapi.json",
        "/api/casework/v1/./%2e%2e/readyz",
    ],
)
async def test_a_dot_segment_cannot_walk_out_of_a_services_api(
    open_gateway: Open, path: str
) -> None:
    """The threat: the gateway checked that a path began `v1/`, and the upstream client
    resolved its dot segments, so `/api/casework/v1/%2e%2e/metrics` reached casework's
    `/metrics` (and `/docs`, `/openapi.json`), which production keeps to the cluster network;
    only `/v1` is forwarded."""
    browser = await open_gateway(upstreams={"casework": echo_service})
    await browser.sign_in(username="counselor")
    answer = await browser.http.get(path)
    assert answer.status_code == 404, answer.text
    assert answer.json()["code"] == "not_found"


async def test_a_dot_segment_cannot_walk_out_of_the_ack_pages(open_gateway: Open) -> None:
    """The same without a session: `/ack/%2e%2e/metrics` reached notify's `/metrics` from
    anywhere on the internet."""
    browser = await open_gateway(upstreams={"notify": echo_service})
    for path in ("/ack/%2e%2e/metrics", "/ack/s/%2e%2e/%2e%2e/docs"):
        answer = await browser.http.get(path)
        assert answer.status_code == 404, answer.text
    # A real link still goes through, to notify's page.
    page = await browser.http.get("/ack/s/W7K3M9P2QR")
    assert page.json()["path"] == "/ack/s/W7K3M9P2QR"


async def test_an_outsider_cannot_make_the_gateway_fail_with_a_control_character_in_a_path(
    open_gateway: Open,
) -> None:
    """The threat: the upstream client refuses a URL holding a control character, which the
    relay did not expect, so `/ack/%00` (no session needed) and `/api/casework/v1/x%01` were
    500s, each logged with its stack: anyone could fill the gateway's log. A NUL is refused
    as the services refuse it (422 `nul_character`), any other control character 404, and
    nothing reaches a service."""
    browser = await open_gateway(upstreams={"notify": echo_service, "casework": echo_service})
    for path, status, code in (
        ("/ack/%00", 422, "nul_character"),
        ("/ack/s/AB%01CD", 404, "not_found"),
        ("/ack/s/AB%7FCD", 404, "not_found"),
    ):
        answer = await browser.http.get(path)
        assert (answer.status_code, answer.json()["code"]) == (status, code), answer.text
        assert answer.headers["content-type"] == "application/problem+json"
    await browser.sign_in(username="counselor")
    for path, status, code in (
        ("/api/casework/v1/cases/%00", 422, "nul_character"),
        ("/api/casework/v1/cases/%1b", 404, "not_found"),
    ):
        answer = await browser.http.get(path)
        assert (answer.status_code, answer.json()["code"]) == (status, code), answer.text
