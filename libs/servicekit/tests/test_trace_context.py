"""W3C trace context at the edge: a valid `traceparent` is carried on, anything else starts
a new trace (never an error: events accept only W3C's form)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request, Response
from shouwang_contracts.envelope import _TRACEPARENT
from shouwang_contracts.trace import current_traceparent
from shouwang_servicekit.fastlane import DirectRoute

from .service_apps import small_service

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def _app() -> FastAPI:
    router = APIRouter(route_class=DirectRoute)

    @router.post("/trace")
    async def trace(request: Request) -> Response:
        return Response(current_traceparent() or "", media_type="text/plain")

    return small_service(router, body_limit=1000)[0]


async def _traceparent(header: str | None) -> tuple[str, str]:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        headers = {"traceparent": header} if header is not None else {}
        response = await client.post("/trace", headers=headers)
    assert response.status_code == 200
    assert response.headers["traceparent"] == response.text
    return response.text, response.text.split("-")[1]


@pytest.mark.parametrize(
    "header",
    [
        f"00-{TRACE_ID}-00f067aa0ba902b7-01",
        f"00-{TRACE_ID}-00f067aa0ba902b7-00",
        f" 00-{TRACE_ID}-00f067aa0ba902b7-01 ",
        # A later version may append fields; its first four are read as version 00's.
        f"01-{TRACE_ID}-00f067aa0ba902b7-01-what-comes-next",
    ],
)
async def test_a_valid_traceparent_is_carried_on(header: str) -> None:
    ours, trace_id = await _traceparent(header)
    assert trace_id == TRACE_ID
    assert _TRACEPARENT.match(ours)
    assert ours.split("-")[2] != "00f067aa0ba902b7"  # this service's own span


@pytest.mark.parametrize(
    "header",
    [
        f"00-{TRACE_ID.upper()}-00f067aa0ba902b7-01",
        "00-" + "z" * 32 + "-00f067aa0ba902b7-01",
        "00-" + "0" * 32 + "-00f067aa0ba902b7-01",
        f"00-{TRACE_ID}-" + "0" * 16 + "-01",
        f"ff-{TRACE_ID}-00f067aa0ba902b7-01",
        f"00-{TRACE_ID}-00f067aa0ba902b7-01-extra",
        f"00-{TRACE_ID}x-00f067aa0ba902b7-01",
        f"00-{TRACE_ID}",
        "",
        None,
    ],
)
async def test_anything_else_starts_a_new_trace(header: str | None) -> None:
    ours, trace_id = await _traceparent(header)
    assert _TRACEPARENT.match(ours)
    assert trace_id not in {TRACE_ID, TRACE_ID.upper(), "0" * 32}
