"""Endpoints on the hot path: a DirectRoute calls its endpoint with the Request alone, and
`read_json_body` answers bad bodies exactly as a declared FastAPI body would."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request, Response
from pydantic import BaseModel, Field
from shouwang_contracts.web import (
    DirectRoute,
    install_problem_handlers,
    json_body_openapi,
    read_json_body,
)


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
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=_app()), base_url="http://t")


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
