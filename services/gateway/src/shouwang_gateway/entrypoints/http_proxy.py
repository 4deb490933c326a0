"""One origin for the services: `/api/<service>/v1/...` forwarded with the session's token,
and notify's acknowledgement pages under `/ack/...` (the signed link is their credential).

Only a short list of request headers goes through: the browser's cookies never reach a
service, whatever `Authorization` it sends is replaced by the token minted for its session,
and `X-Forwarded-For` is the address the gateway itself saw (a service trusts it from the
gateway only: its `FORWARDED_ALLOW_IPS`). Answers are streamed back with `Cache-Control: no-store`, because they hold
personal data no browser should keep on disk.
"""

from __future__ import annotations

import time

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from shouwang_contracts.trace import current_traceparent
from shouwang_servicekit.problems import Problem, nul_character
from starlette.background import BackgroundTask

from .. import metrics
from ..config import UPSTREAMS
from .http_auth import SAFE_METHODS, app_deps, current_session, require_csrf, session_required

router = APIRouter(include_in_schema=False)

_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
_REQUEST_HEADERS = (
    "accept",
    "accept-language",
    "content-type",
    "content-length",
    "idempotency-key",
    "if-match",
)
_RESPONSE_HEADERS = (
    "content-type",
    "content-encoding",
    "content-disposition",
    "location",
    "retry-after",
    "idempotent-replayed",
    "www-authenticate",
)


def _unavailable(service: str) -> Problem:
    return Problem(
        502,
        "service_unavailable",
        "服务暂时无法访问，请稍后重试；已填写的内容不会丢失",
        detail_en=f"The {service} service cannot be reached; retry shortly",
        headers={"Retry-After": "5"},
    )


def _no_such_service() -> Problem:
    return Problem(404, "not_found", "没有这个地址", detail_en="No such resource")


async def _relay(
    request: Request, service: str, client: httpx.AsyncClient, path: str, headers: dict[str, str]
) -> StreamingResponse:
    has_body = request.headers.get("content-length", "0") not in ("", "0") or (
        "transfer-encoding" in request.headers
    )
    upstream = client.build_request(
        request.method,
        path,
        params=request.url.query or None,
        headers=headers,
        content=request.stream() if has_body else None,
    )
    started = time.perf_counter()
    try:
        answer = await client.send(upstream, stream=True)
    except httpx.TransportError as exc:
        metrics.UPSTREAM_FAILURES.labels(service).inc()
        raise _unavailable(service) from exc
    metrics.UPSTREAM_LATENCY.labels(service).observe(time.perf_counter() - started)
    out = {k: v for k in _RESPONSE_HEADERS if (v := answer.headers.get(k)) is not None}
    if "location" in out and out["location"].startswith("/v1/"):
        out["location"] = f"/api/{service}{out['location']}"
    out["cache-control"] = "no-store"
    return StreamingResponse(
        answer.aiter_raw(),
        status_code=answer.status_code,
        headers=out,
        background=BackgroundTask(answer.aclose),
    )


def _walks(path: str) -> bool:
    """Whether `path` (percent-decoded, as routing sees it) holds a `.` or `..` segment: the
    upstream client resolves them (RFC 3986), so `v1/%2e%2e/metrics` would reach the service's
    `/metrics`, outside the `/v1` (or `/ack`) the gateway means to forward."""
    return any(segment in (".", "..") for segment in path.split("/"))


def _refuse_unsendable(path: str) -> None:
    """Refuse a `path` (percent-decoded) the upstream client cannot put in a URL: a control
    character made it raise, a 500 anyone could cause (`/ack/%00` needs no session). A NUL is
    refused as the services refuse it (422 `nul_character`); any other control character, or
    a `.`/`..` segment, is no address of a service (404)."""
    if "\x00" in path:
        raise nul_character()
    if _walks(path) or any(ord(c) < 0x20 or ord(c) == 0x7F for c in path):
        raise _no_such_service()


def _forwarded_headers(request: Request) -> dict[str, str]:
    headers = {k: v for k in _REQUEST_HEADERS if (v := request.headers.get(k)) is not None}
    # The caller's address as this gateway established it (uvicorn takes X-Forwarded-For
    # only from the proxies in FORWARDED_ALLOW_IPS), never the browser's own header: without
    # it a service limiting callers per address (notify's token-less /ack pages, where that
    # stops SMS codes being guessed) sees every browser as the gateway, and one flooding
    # client would lock every staff member out of confirming an alert.
    if request.client is not None:
        headers["x-forwarded-for"] = request.client.host
    # The service continues the gateway's trace (which adopted the browser's, if it sent one),
    # and the browser gets the gateway's one `traceparent` back: relaying the service's too
    # gave the answer two, which a trace context does not allow.
    traceparent = current_traceparent()
    if traceparent:
        headers["traceparent"] = traceparent
    return headers


@router.api_route("/api/{service}/{path:path}", methods=_METHODS)
async def forward(request: Request, service: str, path: str) -> StreamingResponse:
    """Forward a signed-in request to a service's `/v1` API."""
    if service not in UPSTREAMS or not path.startswith("v1/"):
        raise _no_such_service()
    _refuse_unsendable(path)
    deps = app_deps(request)
    session = await current_session(request, deps)
    if session is None:
        raise session_required()
    if request.method not in SAFE_METHODS:
        require_csrf(request, session, deps.settings)
    headers = _forwarded_headers(request)
    token = deps.minter.token_for(session.id_hash, session.identity)
    headers["authorization"] = f"Bearer {token}"
    return await _relay(request, service, deps.upstreams[service], f"/{path}", headers)


@router.api_route("/ack/{path:path}", methods=["GET", "POST"])
async def acknowledgement_page(request: Request, path: str) -> StreamingResponse:
    """Notify's pages behind a message's signed link: no session, the link is the key."""
    _refuse_unsendable(path)
    deps = app_deps(request)
    return await _relay(
        request, "notify", deps.upstreams["notify"], f"/ack/{path}", _forwarded_headers(request)
    )
