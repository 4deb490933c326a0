"""What every service's HTTP API says about itself: the problems its OpenAPI document
promises, the methods a 405 allows, and date-times only as ISO 8601 text."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Query, Request, Response, UploadFile
from pydantic import BaseModel, TypeAdapter, ValidationError
from shouwang_contracts.inputs import IsoAwareDatetime, IsoDatetime
from shouwang_servicekit.fastlane import DirectRoute, json_body_openapi, read_json_body
from shouwang_servicekit.problems import BIGINT_MAX, PROBLEM_JSON

from .service_apps import AUTHORIZED, small_service


class Thing(BaseModel):
    name: str
    due: IsoAwareDatetime


def _app() -> FastAPI:
    reads = APIRouter(prefix="/v1")
    writes = APIRouter(prefix="/v1", route_class=DirectRoute)

    @reads.get("/things/{thing_id}")
    async def get_thing(thing_id: str, page: int = Query(0, ge=0, le=BIGINT_MAX)) -> dict[str, str]:
        return {"id": thing_id}

    @writes.post("/things/{thing_id}", openapi_extra=json_body_openapi(Thing))
    async def put_thing(request: Request) -> Response:
        await read_json_body(request, Thing)
        return Response(status_code=204)

    @reads.post("/uploads")
    async def upload(file: UploadFile) -> dict[str, int]:
        return {"size": len(await file.read())}

    return small_service(reads, writes)[0]


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t", headers=AUTHORIZED
    )


def test_every_operation_documents_its_problems_as_problem_json() -> None:
    spec = _app().openapi()
    problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}
    get = spec["paths"]["/v1/things/{thing_id}"]["get"]
    post = spec["paths"]["/v1/things/{thing_id}"]["post"]
    assert {"401", "403", "404", "422"} <= set(get["responses"])
    assert {"400", "401", "403", "404", "413", "415", "422"} <= set(post["responses"])
    for operation in (get, post):
        assert operation["security"] == [{"bearerAuth": []}]
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                assert response["content"] == problem, (status, response)
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert "trace_id" in spec["components"]["schemas"]["ProblemDetails"]["properties"]
    # FastAPI's own 422 shape is never sent, so it is not described either.
    assert "HTTPValidationError" not in spec["components"]["schemas"]


async def test_a_405_allows_every_method_the_path_has_across_routers() -> None:
    async with _client(_app()) as client:
        response = await client.put("/v1/things/a")
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.headers["allow"] == "GET, POST"  # the router alone said "GET"


async def test_a_number_beyond_any_database_column_is_a_422() -> None:
    async with _client(_app()) as client:
        too_big = await client.get("/v1/things/a", params={"page": BIGINT_MAX + 1})
        fits = await client.get("/v1/things/a", params={"page": BIGINT_MAX})
    assert too_big.status_code == 422
    assert too_big.json()["errors"][0]["field"] == "query.page"
    assert fits.status_code == 200


async def test_broken_multipart_is_a_400_in_chinese_with_the_reason_in_english() -> None:
    broken = b"--b\r\nNone--b--\r\n"  # a part without headers: Starlette cannot parse it
    headers = {"content-type": "multipart/form-data; boundary=b"}
    async with _client(_app()) as client:
        zh = await client.post("/v1/uploads", content=broken, headers=headers)
        en = await client.post(
            "/v1/uploads", content=broken, headers={**headers, "accept-language": "en"}
        )
    assert zh.status_code == 400
    assert zh.json()["code"] == "malformed_request"
    assert "请求格式有误" in zh.json()["detail"]
    assert en.json()["detail"] == "Invalid multipart data."  # Starlette's own words


@pytest.mark.parametrize("value", [1_700_000_000, 1.7e12, "1700000000", " 0.5 ", "1e9"])
def test_a_number_is_not_a_date_time(value: Any) -> None:
    for kind in (IsoDatetime, IsoAwareDatetime):
        with pytest.raises(ValidationError) as caught:
            TypeAdapter(kind).validate_python(value)
        assert caught.value.errors()[0]["type"] == "datetime_type"


def test_iso_8601_text_is_a_date_time() -> None:
    moment = datetime(2026, 11, 29, 8, 30, tzinfo=UTC)
    assert TypeAdapter(IsoAwareDatetime).validate_python("2026-11-29T08:30:00Z") == moment
    assert TypeAdapter(IsoDatetime).validate_python("2026-11-29T08:30:00").tzinfo is None
    assert TypeAdapter(IsoDatetime).validate_python(moment) == moment  # from code, as is
    assert Thing.model_validate_json('{"name": "a", "due": "2026-11-29T08:30:00Z"}').due == moment
    with pytest.raises(ValidationError):
        Thing.model_validate_json('{"name": "a", "due": 1764405000}')
