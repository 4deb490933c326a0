"""Threats every service meets at its edge, found by the security audit (docs/security/routes.md):
odd claims in a signed token, server errors that would write personal data to the logs, and
answers a browser or proxy could keep or misread."""

from __future__ import annotations

import logging
import time
import tracemalloc
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from fastapi import APIRouter
from pydantic import BaseModel
from shouwang_contracts.auth import DEFAULT_AUDIENCE, DEFAULT_ISSUER
from shouwang_servicekit.edge import EdgeMiddleware

from .service_apps import AUTHORIZED, SECRET, small_service

router = APIRouter(prefix="/v1")


@router.get("/things")
async def things() -> dict[str, str]:
    return {"thing": "one"}


@router.get("/students/{student_no}")
async def student(student_no: str, name: str, phone: str) -> dict[str, str]:
    # What an unexpected failure may carry in its message: values of the request or a row.
    raise ValueError(f"no contact for {student_no} {name} {phone}")


class Note(BaseModel):
    text: str


@router.post("/notes")
async def write_note(note: Note) -> dict[str, int]:
    # What sealing a note or writing it to PostgreSQL does first.
    return {"bytes": len(note.text.encode())}


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app, _ = small_service(router)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        yield http


def _signed(**claims: Any) -> dict[str, str]:
    now = int(time.time())
    payload = {
        "sub": "t",
        "role": "counseling_center",
        "campus_id": "c",
        "iat": now,
        "exp": now + 600,
        "iss": DEFAULT_ISSUER,
        "aud": DEFAULT_AUDIENCE,
        **claims,
    }
    return {"Authorization": "Bearer " + jwt.encode(payload, SECRET, algorithm="HS256")}


@pytest.mark.parametrize("scope", [5, [5], [None], [["campus"]], True])
async def test_malformed_scope_claim_is_refused_401_not_a_server_error(
    client: httpx.AsyncClient, scope: Any
) -> None:
    """An identity provider's token whose `scope` is not text (a number, a list of lists)
    is a token we cannot use: 401, never a 500."""
    answer = await client.get("/v1/things", headers=_signed(scope=scope))
    assert answer.status_code == 401, answer.text
    assert answer.json()["code"] == "invalid_token"


async def test_server_error_log_holds_no_personal_data(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """A 500's log line names the route template, the error's type and where it was raised,
    never the raw path (student numbers, link tokens) nor the error's message (values)."""
    with caplog.at_level(logging.ERROR):
        answer = await client.get(
            "/v1/students/2024001",
            params={"name": "张三", "phone": "13800138000"},
            headers=AUTHORIZED,
        )
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/problem+json"
    records = [r for r in caplog.records if r.name == "shouwang.web"]
    assert records
    logged = caplog.text + "".join(str(vars(r)) for r in records)
    for personal in ("2024001", "张三", "13800138000"):
        assert personal not in logged
    assert "/v1/students/{student_no}" in logged
    assert "ValueError" in logged
    assert "test_edge_threats.py" in logged  # where it was raised, for the operator


async def test_api_answers_tell_browsers_not_to_store_or_sniff_them(
    client: httpx.AsyncClient,
) -> None:
    """Every /v1 answer may hold personal data: no browser or proxy keeps it on disk, and no
    browser reads JSON as HTML. Refusals too."""
    for answer in (
        await client.get("/v1/things", headers=AUTHORIZED),
        await client.get("/v1/things"),
    ):
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "body",
    [
        rb'{"text": "\ud800"}',
        rb'{"text": "a\udfff b"}',
        rb'{"text": "\\\ud83d"}',
        rb'{"text": "\uDE00\uD83D"}',
        rb'{"text": "\ud83d\\\ude00"}',
    ],
)
async def test_lone_surrogate_in_a_json_body_is_a_400_not_a_server_error(
    client: httpx.AsyncClient, body: bytes
) -> None:
    """JSON may spell a lone UTF-16 surrogate (`\\ud800`); Python's parser accepts it, and
    the string then fails wherever it is encoded (sealing a note, PostgreSQL, the answer).
    The body is malformed: 400 before any handler runs."""
    answer = await client.post(
        "/v1/notes", content=body, headers={**AUTHORIZED, "Content-Type": "application/json"}
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "malformed_json"


@pytest.mark.parametrize(
    ("body", "size"),
    [
        (rb'{"text": "\ud83d\ude00"}', 4),  # a surrogate pair: one emoji
        (rb'{"text": "\\ud800"}', 6),  # a backslash, then the letters u d 8 0 0
        (rb'{"text": "\\u0000"}', 6),  # a backslash, then the letters u 0 0 0 0
        ('{"text": "心理"}'.encode(), 6),
    ],
)
async def test_json_bodies_with_paired_or_escaped_text_still_pass(
    client: httpx.AsyncClient, body: bytes, size: int
) -> None:
    answer = await client.post(
        "/v1/notes", content=body, headers={**AUTHORIZED, "Content-Type": "application/json"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"bytes": size}


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("GET", "/v1/students/%00", None),
        ("GET", "/v1/things?q=a%00b", None),
        ("POST", "/v1/notes", rb'{"text": "a\u0000b"}'),
        ("POST", "/v1/notes", rb'{"text": "\\\u0000"}'),
    ],
)
async def test_nul_character_in_path_query_or_json_is_a_422_not_a_server_error(
    client: httpx.AsyncClient, method: str, url: str, body: bytes | None
) -> None:
    """No PostgreSQL text holds a NUL: `/v1/students/%00/file` or a note with `\\u0000`
    failed in the query as a 500. Refused at the edge (422, as a parameter or body that
    fails validation), before any handler runs."""
    answer = await client.request(
        method, url, content=body, headers={**AUTHORIZED, "Content-Type": "application/json"}
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "nul_character"


async def test_json_body_check_never_holds_a_large_upload_in_memory() -> None:
    """The gateway takes /api bodies up to 51 MiB: the edge's look for NULs and lone
    surrogates must not keep such a body in memory while it streams through."""
    chunk = b"[" + b" " * (64 * 1024 - 2) + b"]"
    sent = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        sent += 1
        return {"type": "http.request", "body": chunk, "more_body": sent < 320}  # 20 MiB

    async def app(scope: Any, receive: Any, send: Any) -> None:
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def send(message: Any) -> None:
        pass

    edge = EdgeMiddleware(app, body_limit=64 * 1024 * 1024)
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/casework/v1/cases",
        "headers": [(b"content-type", b"application/json")],
        "query_string": b"",
    }
    tracemalloc.start()
    try:
        await edge(scope, receive, send)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024, f"peak {peak} bytes for a 20 MiB body"
