"""Endpoints on the hot path: a DirectRoute calls its endpoint with the Request alone, and
`read_json_body` answers bad bodies exactly as a declared FastAPI body would."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request, Response
from pydantic import BaseModel, Field
from shouwang_servicekit.fastlane import DirectRoute, json_body_openapi, read_json_body
from shouwang_servicekit.problems import PROBLEM_JSON, Problem, install_problem_handlers

from .service_apps import AUTHORIZED, small_service


class Item(BaseModel):
    name: str = Field(min_length=2)
    count: int = Field(ge=1)


def _app() -> FastAPI:
    router = APIRouter(route_class=DirectRoute)

    @router.post("/items", openapi_extra=json_body_openapi(Item))
    async def add(request: Request) -> Response:
        item = await read_json_body(request, Item)
        return Response(item.model_dump_json(), 201, media_type="application/json")

    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(router)
    return app


def _client() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=_app()), base_url="http://t", headers=AUTHORIZED
    )


async def test_a_valid_body_reaches_the_endpoint() -> None:
    async with _client() as client:
        response = await client.post("/items", json={"name": "ab", "count": 2})
    assert response.status_code == 201
    assert response.json() == {"name": "ab", "count": 2}


async def test_bad_bodies_are_problems_naming_their_fields() -> None:
    async with _client() as client:
        invalid = await client.post(
            "/items", json={"name": "a", "count": 0}, headers={"Accept-Language": "en"}
        )
        malformed = await client.post(
            "/items", content=b"{", headers={"Content-Type": "application/json"}
        )
    assert invalid.status_code == 422
    assert invalid.headers["content-type"].startswith("application/problem+json")
    assert {e["field"]: e["type"] for e in invalid.json()["errors"]} == {
        "name": "string_too_short",
        "count": "greater_than_equal",
    }
    assert malformed.status_code == 400
    assert malformed.json()["code"] == "malformed_json"


def test_the_body_is_documented() -> None:
    operation = _app().openapi()["paths"]["/items"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert set(schema["required"]) == {"name", "count"}


def test_an_endpoint_wanting_more_than_the_request_is_refused() -> None:
    router = APIRouter(route_class=DirectRoute)

    async def add(request: Request, name: str) -> Response:
        return Response()

    with pytest.raises(TypeError, match="Request alone"):
        router.add_api_route("/items", add, methods=["POST"])


# --- the edge's fast lane in a service app ---------------------------------------------


class _Service:
    """A service app with one DirectRoute; notes whether each call came through FastAPI's
    routing (which opens exit stacks around an endpoint) or the edge's fast lane."""

    def __init__(self) -> None:
        router = APIRouter(prefix="/v1", route_class=DirectRoute)
        self.routed: list[bool] = []

        @router.post("/items", openapi_extra=json_body_openapi(Item))
        async def add(request: Request) -> Response:
            self.routed.append("fastapi_inner_astack" in request.scope)
            item = await read_json_body(request, Item)
            if item.name == "forbidden":
                raise Problem(403, "item_forbidden", "不允许", detail_en="not allowed")
            if item.name == "crash":
                raise RuntimeError("boom")
            return Response(
                item.model_dump_json(),
                201,
                {"Content-Location": str(request.url_for("add"))},
                media_type="application/json",
            )

        self.app, self.registry = small_service(router, body_limit=200)

    def client(self, root_path: str = "") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(
            app=self.app, root_path=root_path, raise_app_exceptions=False
        )
        return httpx.AsyncClient(transport=transport, base_url="http://t", headers=AUTHORIZED)

    def count(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


async def test_the_edge_hands_a_direct_route_its_request() -> None:
    service = _Service()
    async with service.client() as client:
        response = await client.post("/v1/items", json={"name": "ab", "count": 2})
    assert response.status_code == 201
    assert response.json() == {"name": "ab", "count": 2}
    assert service.routed == [False]  # not through FastAPI's router
    assert response.headers["traceparent"].startswith("00-")
    assert response.headers["content-location"] == "http://t/v1/items"  # url_for works
    assert (
        service.count("t_http_requests_total", route="/v1/items", method="POST", status="201") == 1
    )


async def test_the_fast_lane_answers_errors_as_the_routers_would() -> None:
    service = _Service()
    async with service.client() as client:
        invalid = await client.post("/v1/items", json={"name": "a", "count": 0})
        malformed = await client.post(
            "/v1/items", content=b"{", headers={"Content-Type": "application/json"}
        )
        forbidden = await client.post("/v1/items", json={"name": "forbidden", "count": 1})
        crashed = await client.post("/v1/items", json={"name": "crash", "count": 1})
        declared_too_large = await client.post("/v1/items", json={"name": "x" * 300, "count": 1})

        async def chunks() -> AsyncIterator[bytes]:
            yield b'{"name": "'
            yield b"x" * 300
            yield b'", "count": 1}'

        streamed_too_large = await client.post(
            "/v1/items", content=chunks(), headers={"Content-Type": "application/json"}
        )
    assert service.routed == [False] * 5  # the declared 413 never reaches the endpoint
    statuses = [
        r.status_code
        for r in (invalid, malformed, forbidden, crashed, declared_too_large, streamed_too_large)
    ]
    assert statuses == [422, 400, 403, 500, 413, 413]
    for response in (invalid, malformed, forbidden, crashed, streamed_too_large):
        assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert {e["field"] for e in invalid.json()["errors"]} == {"name", "count"}
    assert forbidden.json()["code"] == "item_forbidden"
    assert crashed.json()["code"] == "internal_error"
    for reason, times in [
        ("validation_failed", 1),
        ("malformed_json", 1),
        ("item_forbidden", 1),
        ("internal_error", 1),
        ("body_too_large", 2),
    ]:
        assert service.count("t_rejections_total", reason=reason) == times, reason
    assert (
        service.count("t_http_requests_total", route="/v1/items", method="POST", status="403") == 1
    )


async def test_other_methods_and_paths_take_the_router() -> None:
    service = _Service()
    async with service.client() as client:
        wrong_method = await client.get("/v1/items")
        other_path = await client.post("/v1/items/", json={"name": "ab", "count": 2})
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "POST"
    # Starlette redirects the trailing slash, as for any route.
    assert other_path.status_code == 307
    assert service.routed == []


async def test_the_fast_lane_serves_an_app_behind_a_path_prefix() -> None:
    service = _Service()
    async with service.client(root_path="/api") as client:
        response = await client.post("/api/v1/items", json={"name": "ab", "count": 2})
    assert response.status_code == 201
    assert service.routed == [False]
