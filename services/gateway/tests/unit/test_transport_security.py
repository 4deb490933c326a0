"""The gateway keeps browsers on https once they have been there (HSTS)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from shouwang_gateway.config import GatewaySettings
from shouwang_gateway.main import create_app


@pytest.mark.parametrize("secure", [True, False])
async def test_hsts_stops_a_later_visit_being_downgraded_to_plain_http(
    secure: bool, tmp_path: Path
) -> None:
    """Without Strict-Transport-Security a network attacker (a campus Wi-Fi) can answer a
    typed `shouwang.example.edu.cn` over plain http and show a false sign-in page. Served
    with Secure cookies (https), every answer pins the browser to https for a year; a
    developer's plain-http gateway (`cookie_secure: false`) sends no pin."""
    app = create_app(GatewaySettings(cookie_secure=secure, web_root=tmp_path))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://gateway") as client:
        for path in ("/healthz", "/auth/nothing-here"):
            answer = await client.get(path)
            pin = answer.headers.get("strict-transport-security")
            assert pin == ("max-age=31536000" if secure else None), path
