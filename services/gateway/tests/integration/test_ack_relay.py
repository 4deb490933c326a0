"""Notify's acknowledgement pages behind the gateway, limited per caller, not per gateway.

`/ack/...` carries no token (the signed link or the SMS code is the credential), so notify
limits it per client address: that stops one address guessing SMS codes. Behind the gateway
every request came from the gateway's address, so one flooding client spent the whole
campus's allowance and the staff confirming a crisis alert got 429 until the minute passed.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from shouwang_devstack.services import ServiceProcess

from .conftest import ORIGIN, Open, echo_service

pytestmark = pytest.mark.integration

ATTACKER = "198.51.100.66"
COUNSELOR = "203.0.113.7"


async def test_one_client_flooding_ack_pages_does_not_lock_out_staff_confirming_alerts(
    open_gateway: Open, service_process: Callable[..., ServiceProcess]
) -> None:
    notify = await service_process(
        "notify", {"SHOUWANG_UNAUTHENTICATED_PER_MINUTE": "5"}
    ).start_async()
    browser = await open_gateway(upstreams={"notify": notify.base_url})
    gateway_app = browser.http._transport.app  # type: ignore[attr-defined]

    def client_at(address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=gateway_app, client=(address, 5000))
        return httpx.AsyncClient(transport=transport, base_url=ORIGIN, timeout=30)

    async with client_at(ATTACKER) as attacker, client_at(COUNSELOR) as counselor:
        answers = [(await attacker.get(f"/ack/s/{n:06d}")).status_code for n in range(12)]
        assert 429 in answers, answers  # the guessing address is limited
        limited = await attacker.get("/ack/s/000000")
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        # Someone else, through the same gateway, still reaches the page.
        page = await counselor.get("/ack/s/123456")
        assert page.status_code != 429, page.text
        assert page.status_code < 500


async def test_a_browser_cannot_pose_as_another_address_to_escape_the_limit(
    open_gateway: Open,
) -> None:
    browser = await open_gateway(upstreams={"notify": echo_service})
    answer = await browser.http.get("/ack/s/123456", headers={"X-Forwarded-For": "10.9.9.9"})
    # The address the gateway saw (the test client's), not the one the browser claimed.
    assert answer.json()["headers"]["x-forwarded-for"] == COUNSELOR
