"""The gateway in-process (its real app factory and lifespan) on a fresh database of the
session's PostgreSQL, with a browser-like client: HTTPS origin, cookies kept, same-site
headers sent as Chromium sends them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from shouwang_contracts.vocabulary import Role
from shouwang_gateway.adapters.passwords import Passwords
from shouwang_gateway.adapters.store import GatewayStore
from shouwang_gateway.config import GatewaySettings
from shouwang_gateway.domain.accounts import Account
from shouwang_gateway.main import create_app
from starlette.types import Receive, Scope, Send

ORIGIN = "https://gateway.test"
PASSWORD = "a-long-pilot-password"


async def echo_service(scope: Scope, receive: Receive, send: Send) -> None:
    """A stand-in service that answers with what reached it (headers, path, body)."""
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    seen = {
        "method": scope["method"],
        "path": scope["path"],
        "query": scope["query_string"].decode(),
        "headers": {k.decode(): v.decode() for k, v in scope["headers"]},
        "body": body.decode(errors="replace"),
    }
    await send(
        {
            "type": "http.response.start",
            "status": 201,
            "headers": [
                (b"content-type", b"application/json"),
                (b"location", b"/v1/things/1"),
                (b"set-cookie", b"upstream=1"),
                (b"x-internal", b"secret"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": json.dumps(seen).encode()})


@pytest.fixture
async def gateway_db(service_database: Any) -> str:
    dsn: str = await service_database("gateway")
    return dsn


Settings = Callable[..., GatewaySettings]


@pytest.fixture
def gateway_settings(gateway_db: str, devstack_env: dict[str, str], tmp_path: Path) -> Settings:
    (tmp_path / "index.html").write_text("<!doctype html><title>守望</title>", encoding="utf-8")
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "app-1234.js").write_text("console.log(1)", encoding="utf-8")

    def build(**overrides: Any) -> GatewaySettings:
        values: dict[str, Any] = {
            "database_url": gateway_db,
            # The shared names are read by their variable's name, not the field's.
            "SHOUWANG_JWT_SECRET": devstack_env["SHOUWANG_JWT_SECRET"],
            "web_root": tmp_path,
            "public_origin": ORIGIN,
            "SHOUWANG_ENV": "test",
        }
        values.update(overrides)
        return GatewaySettings(**values)

    return build


class Browser:
    """An httpx client that behaves like a page of our origin."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.http = client
        self.csrf: str | None = None

    async def sign_in(
        self, username: str = "dorm", password: str = PASSWORD, campus: str = "demo"
    ) -> httpx.Response:
        answer = await self.http.post(
            "/auth/login",
            json={"campus_id": campus, "username": username, "password": password},
            headers={"Origin": ORIGIN, "Sec-Fetch-Site": "same-origin"},
        )
        if answer.status_code == 200:
            self.csrf = answer.json()["csrf_token"]
        return answer

    def writes(self) -> dict[str, str]:
        """Headers of a same-origin write from our page."""
        return {
            "Origin": ORIGIN,
            "Sec-Fetch-Site": "same-origin",
            "X-CSRF-Token": self.csrf or "",
        }


Open = Callable[..., Awaitable[Browser]]


@pytest.fixture
async def open_gateway(gateway_settings: Settings) -> AsyncIterator[Open]:
    """`await open_gateway(**settings)` -> a Browser on a running gateway with the accounts
    `dorm` (dorm leader 2024020001) and `counselor` (T1002), both with PASSWORD."""
    stack: list[Any] = []

    async def start(upstreams: dict[str, Any] | None = None, **overrides: Any) -> Browser:
        settings = gateway_settings(**overrides)
        app = create_app(settings)
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        stack.append(lifespan)
        deps = app.state.container
        for name, target in (upstreams or {}).items():
            if isinstance(target, str):
                deps.upstreams[name] = httpx.AsyncClient(base_url=target, timeout=30)
            else:
                deps.upstreams[name] = httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=target), base_url="http://svc"
                )
        passwords = Passwords()
        for username, sub, role in (
            ("dorm", "2024020001", Role.DORM_LEADER),
            ("counselor", "T1002", Role.RESIDENCE_COUNSELOR),
        ):
            await deps.store.save_account(
                Account("demo", username, passwords.hash(PASSWORD), sub, role)
            )
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("203.0.113.7", 5000)),
            base_url=ORIGIN,
            timeout=30,
        )
        stack.append(client)
        return Browser(client)

    yield start
    for item in reversed(stack):
        if isinstance(item, httpx.AsyncClient):
            await item.aclose()
        else:
            await item.__aexit__(None, None, None)


@pytest.fixture
async def gateway_store(gateway_db: str) -> AsyncIterator[GatewayStore]:
    pool = await asyncpg.create_pool(gateway_db, min_size=1, max_size=2)
    try:
        yield GatewayStore(pool)
    finally:
        await pool.close()


async def eventually(check: Callable[[], Awaitable[Any]], within: float = 60.0) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        value = await check()
        if value or loop.time() > deadline:
            return value
        await asyncio.sleep(0.3)
