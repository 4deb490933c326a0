"""Threats every service meets at its edge, found by the security audit (docs/security/routes.md):
odd claims in a signed token, server errors that would write personal data to the logs, and
answers a browser or proxy could keep or misread."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from fastapi import APIRouter
from shouwang_contracts.auth import DEFAULT_AUDIENCE, DEFAULT_ISSUER

from .service_apps import SECRET, small_service

router = APIRouter(prefix="/v1")


@router.get("/things")
async def things() -> dict[str, str]:
    return {"thing": "one"}


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
