"""FastAPI glue every Shouwang service uses: errors, auth, tracing, health and metrics.

Needs the `web` extra (`shouwang-contracts[web]`).
- Errors are RFC 9457 problem+json, titled in zh-CN unless the caller prefers English.
- `CurrentPrincipal` authenticates a bearer token; `require_roles` narrows by role.
- `EdgeMiddleware` keeps W3C trace context per request, limits bodies and counts requests.
- `operations_router` serves `/healthz`, `/readyz` and `/metrics` without authentication.
- `service_app` wires all of it the same way in every service; `serve` runs the app.
"""

from __future__ import annotations

import contextvars
import gc
import inspect
import logging
import os
import re
import secrets
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar, cast

import anyio
import uvicorn
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.telemetry import TelemetryConfig
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from pydantic import BaseModel, Field, ValidationError
from pythonjsonlogger.json import JsonFormatter
from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .auth import AuthError, Principal, TokenVerifier
from .i18n import validation_message
from .vocabulary import DEFAULT_LANGUAGE, Language, Role

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "urn:shouwang:problem:"
#: The largest integer PostgreSQL's bigint holds: the bound of any number a client sends that
#: reaches a query (ids, cursors, offsets), so an oversized one is a 422, not a failed query.
BIGINT_MAX = 2**63 - 1

# status → (zh-CN title, en title)
_TITLES: dict[int, tuple[str, str]] = {
    400: ("请求有误", "Bad request"),
    401: ("未通过身份认证", "Not authenticated"),
    403: ("无权执行此操作", "Forbidden"),
    404: ("未找到", "Not found"),
    405: ("不支持该请求方法", "Method not allowed"),
    409: ("与已有请求冲突", "Conflict"),
    413: ("请求内容过大", "Content too large"),
    415: ("不支持的内容类型", "Unsupported media type"),
    422: ("请求内容未通过校验", "Validation failed"),
    429: ("请求过于频繁", "Too many requests"),
    500: ("服务器内部错误", "Internal server error"),
    503: ("服务暂时不可用，请稍后重试", "Service temporarily unavailable, retry later"),
}

_trace: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar(
    "shouwang_trace", default=None
)
logger = logging.getLogger("shouwang.web")


# FastAPI's native OpenTelemetry, off. Shouwang carries its own W3C trace context and
# Prometheus metrics (EdgeMiddleware), and FastAPI's log signal would record validation
# failures with the values that failed, which may be personal data. Checking whether it is
# configured also costs every request. Pass as `FastAPI(telemetry=FASTAPI_TELEMETRY_OFF)`.
FASTAPI_TELEMETRY_OFF: TelemetryConfig = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
}


class Problem(Exception):
    """An error answered as problem+json. `code` is a stable machine-readable reason.

    `detail` is zh-CN; `detail_en` is sent instead to callers who prefer English. Each entry
    of `errors` may carry `message_en` beside `message` the same way.
    """

    def __init__(
        self,
        status: int,
        code: str,
        detail: str | None = None,
        *,
        detail_en: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail_en or detail or code)
        self.status = status
        self.code = code
        self.detail = detail
        self.detail_en = detail_en
        self.errors = errors
        self.headers = headers


#: Where `problem_response` leaves the problem's code for `EdgeMiddleware` to count.
PROBLEM_CODE_SCOPE_KEY = "shouwang.problem_code"


def preferred_language(request: Request) -> Language:
    """zh-CN unless the caller's Accept-Language puts English first."""
    header = request.headers.get("accept-language", "")
    first = header.split(",", 1)[0].strip().lower()
    return "en" if first.startswith("en") else DEFAULT_LANGUAGE


def problem_response(
    request: Request,
    status: int,
    code: str,
    detail: str | None = None,
    *,
    detail_en: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The problem+json answer, in the caller's language (zh-CN unless English comes first)."""
    english = preferred_language(request) == "en"
    zh, en = _TITLES.get(status, _TITLES[500] if status >= 500 else _TITLES[400])
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code,
        "title": en if english else zh,
        "status": status,
        "code": code,
        "instance": request.url.path,
    }
    chosen = (detail_en or detail) if english else (detail or detail_en)
    if chosen:
        body["detail"] = chosen
    if errors:
        body["errors"] = [_in_language(error, english) for error in errors]
    request.scope[PROBLEM_CODE_SCOPE_KEY] = code
    trace = current_trace_id()
    if trace:
        body["trace_id"] = trace
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


# The framework's own errors: (code, zh-CN detail, English detail).
_HTTP_ERRORS: dict[int, tuple[str, str | None, str | None]] = {
    # Starlette's own 400s say what broke (e.g. "Invalid multipart data."): kept in English.
    400: ("malformed_request", "请求格式有误，无法解析（例如 multipart 数据不完整）", None),
    404: ("not_found", "没有这个地址", "No such resource"),
    405: ("method_not_allowed", "这个地址不支持该请求方法", "This method is not allowed here"),
}


def _in_language(error: dict[str, Any], english: bool) -> dict[str, Any]:
    """One field error with `message` in the caller's language and no `message_en` key."""
    out = {k: v for k, v in error.items() if k != "message_en"}
    if english and error.get("message_en"):
        out["message"] = error["message_en"]
    return out


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route takes at this path. The router's own 405 names only the
    first route whose path matched, so a path served by a GET and a POST route in separate
    routers would say `Allow: GET` to a PUT (RFC 9110 wants them all)."""
    routes = request.app.router.routes
    allowed = []
    for method in _METHODS:
        scope = {
            "type": "http",
            "method": method,
            "path": request.scope["path"],
            "root_path": request.scope.get("root_path", ""),
            "app": request.app,
            "headers": [],
            "query_string": b"",
        }
        if any(route.matches(dict(scope))[0] is Match.FULL for route in routes):
            allowed.append(method)
    return allowed


def install_problem_handlers(app: FastAPI) -> None:
    """Every error leaves as problem+json; unexpected ones are logged and answered 500."""

    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        return problem_response(
            request,
            exc.status,
            exc.code,
            exc.detail,
            detail_en=exc.detail_en,
            errors=exc.errors,
            headers=exc.headers,
        )

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {
                "field": ".".join(str(p) for p in err.get("loc", ()) if p != "body"),
                "message": validation_message(err),
                "message_en": validation_message(err, "en"),
                "type": err.get("type", ""),
            }
            for err in exc.errors()
        ]
        if any(e["type"] == "json_invalid" for e in errors):
            return problem_response(
                request,
                400,
                "malformed_json",
                "请求体不是合法的 JSON",
                detail_en="The request body is not valid JSON",
                errors=errors,
            )
        return problem_response(
            request,
            422,
            "validation_failed",
            "请求内容有字段未通过校验，见 errors",
            detail_en="Some fields failed validation; see errors",
            errors=errors,
        )

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if isinstance(exc, BodyTooLarge):
            return _too_large_response(request, exc.limit)
        code, zh, en = _HTTP_ERRORS.get(exc.status_code, ("http_error", None, None))
        said = exc.detail if isinstance(exc.detail, str) else None
        detail = said if zh is None else zh
        en = en or said
        headers = dict(exc.headers) if exc.headers else None
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": ", ".join(_allowed_methods(request))}
        return problem_response(
            request, exc.status_code, code, detail, detail_en=en, headers=headers
        )

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return problem_response(request, 500, "internal_error")

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)


async def current_principal(request: Request) -> Principal:
    """Authenticate the bearer token with the app's `token_verifier`."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Problem(
            401,
            "missing_token",
            "需要在 Authorization 头中提供 Bearer 令牌",
            detail_en="A bearer token is required in the Authorization header",
            headers={"WWW-Authenticate": "Bearer"},
        )
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        if verifier.needs_network:
            return await anyio.to_thread.run_sync(verifier.verify, token)
        return verifier.verify(token)
    except AuthError as exc:
        raise Problem(
            401,
            "invalid_token",
            "令牌无效或已过期，请重新登录",
            detail_en=str(exc),
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from exc


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_roles(
    *roles: Role, json_body: bool = False
) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency that lets only the given roles through: 401 without a valid token, 403
    for other roles and, with `json_body`, 415 first unless the body is declared as JSON.

    One dependency rather than a chain: FastAPI solves each dependency per request.
    """
    allowed = frozenset(roles)

    async def check(request: Request) -> Principal:
        if json_body:
            await require_json(request)
        principal = await current_principal(request)
        if principal.role not in allowed:
            raise role_forbidden(principal.role, allowed)
        return principal

    return check


def role_forbidden(
    role: Role, allowed: Iterable[Role], action: tuple[str, str] = ("执行此操作", "do this")
) -> Problem:
    """403 `role_forbidden`: the caller's role may not do `action` (zh-CN, English); names
    the roles that may, in tier order."""
    ordered = sorted(allowed, key=list(Role).index)
    action_zh, action_en = action
    return Problem(
        403,
        "role_forbidden",
        f"{role.label()}无权{action_zh}；有权限的角色：" + "、".join(r.label() for r in ordered),
        detail_en=f"role {role.value} may not {action_en}; allowed: "
        + ", ".join(r.value for r in ordered),
    )


def require_same_campus(principal: Principal, campus_id: str) -> None:
    """Refuse a request about another campus than the caller's own."""
    if principal.campus_id != campus_id:
        raise Problem(
            403,
            "campus_forbidden",
            "campus_id 与令牌所属的校区不一致",
            detail_en="campus_id does not match your token's campus",
        )


async def require_json(request: Request) -> None:
    """415 unless the body is declared as JSON (a dependency for JSON endpoints).

    Async on purpose: FastAPI runs plain `def` dependencies in a thread pool, a thread hop
    per request that costs more than the check.
    """
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise Problem(
            415,
            "unsupported_media_type",
            "请使用 application/json 提交",
            detail_en="Send the body as application/json",
        )


# --- JSON bodies an endpoint reads itself --------------------------------------------------

M = TypeVar("M", bound=BaseModel)


async def read_json_body(
    request: Request, model: type[M], *, other_errors: Sequence[dict[str, Any]] = ()
) -> M:
    """The request body as `model`, parsed and validated in one pass from the raw bytes.

    For the busiest endpoints (intake's reports): a body declared as a FastAPI parameter costs
    a `json.loads`, a dependency solve and a validation of the resulting dict, about a seventh
    of such a request's CPU. Errors leave as FastAPI's `RequestValidationError` with their
    locations under `body`, so the caller sees what a declared body gives: 400
    `malformed_json`, or 422 `validation_failed` naming each field. `other_errors` (a header's,
    say) are reported in the same answer. Document the body with `json_body_openapi`.
    """
    body = await request.body()
    try:
        parsed = model.model_validate_json(body)
    except ValidationError as exc:
        errors = [
            *other_errors,
            *({**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)),
        ]
        raise RequestValidationError(errors, body=body) from exc
    if other_errors:
        raise RequestValidationError(list(other_errors), body=body)
    return parsed


class DirectRoute(APIRoute):
    """A route for the busiest endpoints: the endpoint takes the `Request` alone and returns
    a `Response`, and is called as it is.

    FastAPI's own handler solves dependencies even for an endpoint with none, which builds a
    `Response` and parses query, headers and cookies on every request. The OpenAPI document
    is generated as for any route; describe a body read with `read_json_body` through
    `json_body_openapi`. Use as `APIRouter(route_class=DirectRoute)`.

    In a `service_app`, `EdgeMiddleware` goes further: a request for a DirectRoute without
    path parameters goes from the edge straight to `serve_direct`, past Starlette's exception
    layer, FastAPI's exit-stack layer, the app's and the included router (which match routes
    twice) and the two exit stacks FastAPI opens around every endpoint: about a seventh of an
    intake report's CPU. Errors are answered by the app's exception handlers, as the
    exception layer would; other methods and paths (a trailing slash, say) take the usual way.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        parameters = list(inspect.signature(endpoint).parameters.values())
        if len(parameters) != 1 or parameters[0].annotation not in (Request, "Request"):
            raise TypeError(f"{endpoint.__name__} must take the Request alone for a DirectRoute")
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        return cast(Callable[[Request], Coroutine[Any, Any, Response]], self.endpoint)

    async def serve_direct(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a request routed here by the edge: what the router and Starlette's
        exception layer would do for this route, and no more."""
        scope["route"] = self
        scope["endpoint"] = self.endpoint
        scope["path_params"] = {}
        request = Request(scope, receive, send)
        try:
            response = await self.endpoint(request)
        except Exception as exc:
            handler = _exception_handler(scope["app"], exc)
            if handler is None:
                raise  # ServerErrorMiddleware logs it and answers 500, as for any route
            response = await handler(request, exc)
            exc.__traceback__ = None  # as Starlette: a reused exception keeps no traceback
        await response(scope, receive, send)


def _exception_handler(
    app: Starlette, exc: Exception
) -> Callable[[Request, Exception], Awaitable[Response]] | None:
    """The handler Starlette's exception layer would pick for `exc`: by status code for an
    HTTPException, else by class. The catch-all (`Exception`, 500) belongs to the outer
    ServerErrorMiddleware, so it is not picked here."""
    handlers = app.exception_handlers
    handler = None
    if isinstance(exc, StarletteHTTPException) and exc.status_code != 500:
        handler = handlers.get(exc.status_code)
    if handler is None:
        for cls in type(exc).__mro__:
            if cls is Exception:
                break
            handler = handlers.get(cls)
            if handler is not None:
                break
    if handler is None:
        return None
    if not inspect.iscoroutinefunction(handler):
        raise TypeError("a DirectRoute's app needs async exception handlers")
    return cast(Callable[[Request, Exception], Awaitable[Response]], handler)


def _direct_routes(routers: Iterable[APIRouter]) -> dict[tuple[str, str], DirectRoute]:
    """(method, path) → DirectRoute, for the edge's fast lane; routes with path parameters
    are left to the router."""
    return {
        (method, route.path): route
        for router in routers
        for route in router.routes
        if isinstance(route, DirectRoute) and "{" not in route.path
        for method in route.methods or ()
    }


def json_body_openapi(
    model: type[BaseModel], *, parameters: Sequence[dict[str, Any]] = ()
) -> dict[str, Any]:
    """`openapi_extra` for a route that reads its body with `read_json_body`: the body's
    schema (its `$defs` move into the components in `service_app`) and any `parameters`."""
    schema = model.model_json_schema(ref_template=_COMPONENT_REF + "{model}")
    extra: dict[str, Any] = {
        "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}
    }
    if parameters:
        extra["parameters"] = list(parameters)
    return extra


_COMPONENT_REF = "#/components/schemas/"


def _hoist_body_definitions(spec: dict[str, Any]) -> dict[str, Any]:
    """Move the `$defs` of inline request-body schemas into `components/schemas`, where
    their references (`json_body_openapi`) point."""
    components = spec.setdefault("components", {}).setdefault("schemas", {})
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            content = operation.get("requestBody", {}).get("content", {})
            for media in content.values():
                schema = media.get("schema", {})
                for name, definition in schema.pop("$defs", {}).items():
                    components.setdefault(name, definition)
    return spec


class ProblemFieldError(BaseModel):
    """One field at fault in a problem's `errors`."""

    field: str | None = Field(
        None, description="The field at fault, as a dotted path (e.g. `query.limit`)."
    )
    message: str = Field(description="What is wrong, zh-CN unless English is preferred.")
    type: str | None = Field(None, description="Stable machine-readable kind of error.")


class ProblemDetails(BaseModel):
    """RFC 9457 problem details, the body of every error (`application/problem+json`)."""

    type: str = Field(description="`urn:shouwang:problem:<code>`")
    title: str = Field(description="zh-CN unless Accept-Language puts English first.")
    status: int
    code: str = Field(description="Stable machine-readable reason, e.g. `campus_mismatch`.")
    detail: str | None = None
    instance: str | None = Field(None, description="The request's path.")
    errors: list[ProblemFieldError] | None = None
    trace_id: str | None = Field(None, description="W3C trace id, to quote to operators.")


# The problems any /v1 operation can answer, documented on every operation they apply to;
# an operation's own description of a status wins.
_GENERIC_PROBLEMS: dict[int, str] = {
    400: "The body is not well-formed (not JSON, or broken multipart).",
    401: "No bearer token, or one that is invalid or expired.",
    403: "The caller's role, tier, campus or scope does not allow this.",
    404: "No such resource (in the caller's campus).",
    413: "The body is over this route's size limit.",
    415: "The body's Content-Type is not one this route reads.",
    422: "Some input failed validation; `errors` names each field.",
}
_BEARER = "bearerAuth"


def _document_problems(spec: dict[str, Any]) -> dict[str, Any]:
    """Say what every authenticated operation answers besides success, and how.

    Every error is problem+json with `ProblemDetails`, whatever FastAPI would have documented
    (it calls its own 422 `application/json` with a shape we never send). Operations under
    `/v1` need a bearer token, so they may answer 401 and 403; one with a body may also
    answer 400, 413, 415 and 422, one with parameters 422, one with a templated path 404.
    """
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    problem = ProblemDetails.model_json_schema(ref_template=_COMPONENT_REF + "{model}")
    for name, definition in problem.pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    schemas["ProblemDetails"] = problem
    components.setdefault("securitySchemes", {})[_BEARER] = {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A token of the campus identity provider (HS256 locally, RS256 via JWKS).",
    }
    body = {PROBLEM_JSON: {"schema": {"$ref": _COMPONENT_REF + "ProblemDetails"}}}
    for path, operations in spec.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if path.startswith("/v1/"):
                operation.setdefault("security", [{_BEARER: []}])
                parameters = operation.get("parameters", [])
                codes = {401, 403}
                if "requestBody" in operation:
                    codes |= {400, 413, 415, 422}
                if parameters:
                    codes.add(422)
                if "{" in path:  # declared or not (a DirectRoute reads the request itself)
                    codes.add(404)
                for code in codes:
                    responses.setdefault(str(code), {"description": _GENERIC_PROBLEMS[code]})
            for status, response in responses.items():
                if status.isdigit() and int(status) >= 400:
                    response["content"] = body
                if status == "422" and response.get("description") == "Validation Error":
                    response["description"] = _GENERIC_PROBLEMS[422]  # FastAPI's own words
    for unused in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422, never sent
        schemas.pop(unused, None)
    return spec


class BodyTooLarge(StarletteHTTPException):
    """The request body passed the size limit of its route while it streamed in."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"body exceeds {limit} bytes")
        self.limit = limit


def _too_large_response(request: Request, limit: int) -> JSONResponse:
    """413 `body_too_large`, whether the limit showed in Content-Length or while streaming."""
    return problem_response(
        request,
        413,
        "body_too_large",
        f"请求体超过 {limit} 字节的上限",
        detail_en=f"The request body exceeds the limit of {limit} bytes",
    )


# --- the edge: trace context, metrics and body limits in one ASGI layer --------------------


def current_trace_id() -> str | None:
    value = _trace.get()
    return value[0] if value else None


def current_traceparent() -> str | None:
    """The W3C traceparent to stamp on events caused by the current request."""
    value = _trace.get()
    return f"00-{value[0]}-{value[1]}-01" if value else None


def _route_path(scope: Scope) -> str:
    """The path the routers match: without the `root_path` a proxy mounted the app under."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and (path == root_path or path.startswith(root_path + "/")):
        return path[len(root_path) :]
    return path


# W3C Trace Context: version-traceid-parentid-flags, lowercase hex; a later version may
# append fields, version 00 may not.
_TRACEPARENT_HEADER = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}(-.*)?")
_INVALID_TRACE_ID = "0" * 32
_INVALID_PARENT_ID = "0" * 16


def _incoming_trace_id(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The trace id of a valid incoming `traceparent`, else None (the request starts a new
    trace, as the spec asks). Events carry it on, and their schema accepts W3C's form only:
    a malformed header must not turn a report into a 500."""
    for name, value in headers:
        if name == b"traceparent":
            match = _TRACEPARENT_HEADER.fullmatch(value.decode("latin-1").strip())
            if (
                match is None
                or match[1] == "ff"
                or (match[1] == "00" and match[4] is not None)
                or match[2] == _INVALID_TRACE_ID
                or match[3] == _INVALID_PARENT_ID
            ):
                return None
            return match[2]
    return None


class EdgeMiddleware:
    """Everything a request meets before routing, in one ASGI layer (each layer costs a
    coroutine and a wrapped `send` per request, which a busy intake notices):

    - adopts an incoming W3C `traceparent` or starts a trace, and echoes it in the response;
    - refuses bodies over a size limit (per path prefix), by header or while streaming;
    - hands requests for `direct_routes` (method and path) straight to their route;
    - counts requests and times them by route template (never by raw path: ids are many).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: HttpMetrics | None = None,
        body_limit: int | None = None,
        body_limit_overrides: dict[str, int] | None = None,
        direct_routes: dict[tuple[str, str], DirectRoute] | None = None,
    ) -> None:
        self.app = app
        self.direct_routes = direct_routes or {}
        self.metrics = metrics
        self.body_limit = body_limit
        self.overrides = sorted((body_limit_overrides or {}).items(), key=lambda kv: -len(kv[0]))
        # Bounded: route templates (or "unmatched"), methods and statuses are few.
        self._labelled: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def _series(self, template: str, method: str, status: int) -> tuple[Any, Any]:
        """The labelled counter and histogram of one route, method and status, looked up
        once (prometheus-client takes a lock and builds a label tuple per `labels()`)."""
        key = (template, method, status)
        series = self._labelled.get(key)
        if series is None:
            assert self.metrics is not None
            series = (
                self.metrics.requests.labels(template, method, str(status)),
                self.metrics.latency.labels(template, method),
            )
            self._labelled[key] = series
        return series

    def _limit(self, path: str) -> int | None:
        for prefix, limit in self.overrides:
            if path.startswith(prefix):
                return limit
        return self.body_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = scope.get("headers", ())
        fresh = secrets.token_hex(24)  # a trace id and a span id from one read of urandom
        token = _trace.set((_incoming_trace_id(headers) or fresh[:32], fresh[32:]))
        traceparent = (current_traceparent() or "").encode()
        status = 500

        async def edge_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"traceparent", traceparent)]
            await send(message)

        limit = self._limit(scope["path"])
        target = self.app
        if self.direct_routes:
            direct = self.direct_routes.get((scope["method"], _route_path(scope)))
            if direct is not None:
                target = direct.serve_direct
        try:
            if limit is None:
                await target(scope, receive, edge_send)
                return
            for name, value in headers:
                if name == b"content-length" and value.isdigit() and int(value) > limit:
                    await _too_large_response(Request(scope), limit)(scope, receive, edge_send)
                    return
            received = 0

            async def limited_receive() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > limit:
                        raise BodyTooLarge(limit)
                return message

            await target(scope, limited_receive, edge_send)
        finally:
            _trace.reset(token)
            if self.metrics is not None:
                route = scope.get("route")
                template = getattr(route, "path", None) or "unmatched"
                counted, timed = self._series(template, scope.get("method", ""), status)
                counted.inc()
                timed.observe(time.perf_counter() - started)
                if status >= 400:
                    # A 500 escapes past this layer before its problem is written.
                    reason = scope.get(PROBLEM_CODE_SCOPE_KEY) or (
                        "internal_error" if status == 500 else "http_error"
                    )
                    self.metrics.rejections.labels(reason).inc()


@dataclass(frozen=True, slots=True)
class HttpMetrics:
    """What `EdgeMiddleware` counts for a service:

    - `<service>_http_requests_total` and `<service>_http_request_duration_seconds`, by route
      template (never the raw path, whose ids are many), method and status;
    - `<service>_rejections_total`, every 4xx and 5xx answer by its problem+json `code`
      (auth, validation, size, media type, conflicts, Kafka unavailable and the rest).
    """

    requests: Counter
    latency: Histogram
    rejections: Counter

    @classmethod
    def register(cls, service: str, registry: CollectorRegistry) -> HttpMetrics:
        return cls(
            Counter(
                f"{service}_http_requests_total",
                "HTTP requests answered, by route template, method and status.",
                ["route", "method", "status"],
                registry=registry,
            ),
            Histogram(
                f"{service}_http_request_duration_seconds",
                "Time from request to response, by route template and method.",
                ["route", "method"],
                buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
                registry=registry,
            ),
            Counter(
                f"{service}_rejections_total",
                "Requests answered with an error, by reason (the problem+json code).",
                ["reason"],
                registry=registry,
            ),
        )


class _TraceFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.trace_id = current_trace_id()
        return True


def configure_logging(service: str, level: str | None = None) -> None:
    """JSON lines on stdout with service name and trace id. Never log personal data."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        JsonFormatter(
            "{asctime}{levelname}{name}{message}{trace_id}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            static_fields={"service": service},
        )
    )
    handler.addFilter(_TraceFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level or os.environ.get("LOG_LEVEL", "INFO"))
    for noisy in ("uvicorn.access",):
        logging.getLogger(noisy).setLevel(logging.WARNING)


#: Net allocations of tracked objects between collections of the young generation in a served
#: process (see `serve`).
YOUNG_GC_THRESHOLD = 10_000


def serve(app: ASGIApp, host: str, port: int) -> None:
    """Run `app` as every Shouwang service runs: uvicorn in one process, logging left to
    `configure_logging`, no access log (requests are counted in metrics, and paths carry ids),
    X-Forwarded-* trusted only from the proxies uvicorn trusts (`FORWARDED_ALLOW_IPS`).

    The young generation of the garbage collector is collected after `YOUNG_GC_THRESHOLD` net
    allocations instead of CPython's 700. A busy server keeps a few thousand young objects
    alive at any moment (requests in flight, their futures, records and coroutines), so at
    700 every collection rescans them and promotes them to the older generations merely for
    being alive, and those fill and are collected in turn: 5 % of intake's CPU at 4,000
    reports/s, saved for half a megabyte more memory (figures: bench/README.md, 2026-12-05). A
    service's startup may also `gc.freeze()` what it built, as intake does.

    The throughput bench serves its baseline and floor with it too, so all its rows run on the
    same server settings.
    """
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_GC_THRESHOLD, middle, old)
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False, proxy_headers=True)


# --- operations --------------------------------------------------------------------------

ReadinessCheck = Callable[[], Awaitable[bool]]


def operations_router(
    checks: dict[str, ReadinessCheck], registries: Iterable[CollectorRegistry]
) -> APIRouter:
    """`/healthz` (process alive), `/readyz` (every dependency answers), `/metrics`."""
    router = APIRouter(tags=["operations"])
    registry_list = list(registries)

    @router.get("/healthz", operation_id="healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", operation_id="readyz", include_in_schema=False)
    async def readyz() -> Response:
        results: dict[str, bool] = {}
        for name, check in checks.items():
            try:
                with anyio.fail_after(2):
                    results[name] = await check()
            except Exception:  # a failing dependency is "not ready", never a 500
                results[name] = False
        ready = all(results.values())
        return JSONResponse(
            {"status": "ready" if ready else "not_ready", "checks": results},
            status_code=200 if ready else 503,
        )

    @router.get("/metrics", operation_id="metrics", include_in_schema=False)
    async def metrics() -> Response:
        body = b"".join(generate_latest(r) for r in registry_list)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return router


# --- the app -----------------------------------------------------------------------------


def service_app(
    *,
    title: str,
    description: str,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
    token_verifier: TokenVerifier,
    routers: Iterable[APIRouter],
    readiness: dict[str, ReadinessCheck],
    registry: CollectorRegistry,
    http_metrics: HttpMetrics,
    body_limit: int,
    body_limit_overrides: dict[str, int] | None = None,
) -> FastAPI:
    """A service's FastAPI app, wired as every Shouwang service is:

    - FastAPI's own telemetry off (`FASTAPI_TELEMETRY_OFF`);
    - bearer tokens checked by `token_verifier` (read by `current_principal`);
    - problem+json for every error, in zh-CN unless the caller prefers English;
    - the service's `/v1` routers, then `/healthz`, `/readyz` (every `readiness` check) and
      `/metrics` (the service's `registry`);
    - one `EdgeMiddleware` in front: trace context, the body limit (`body_limit`, or a
      longer path prefix's override), `http_metrics`, and the fast lane to the routers'
      `DirectRoute`s;
    - an OpenAPI document that also describes bodies read with `read_json_body`.

    `lifespan` opens and closes the service's connections and workers.
    """
    app = FastAPI(
        title=title,
        version="1.0.0",
        description=description,
        lifespan=lifespan,
        telemetry=FASTAPI_TELEMETRY_OFF,
    )
    app.state.token_verifier = token_verifier
    install_problem_handlers(app)
    routers = list(routers)
    for router in routers:
        app.include_router(router)
    app.include_router(operations_router(readiness, [registry]))
    app.add_middleware(
        EdgeMiddleware,
        metrics=http_metrics,
        body_limit=body_limit,
        body_limit_overrides=body_limit_overrides,
        direct_routes=_direct_routes(routers),
    )
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _document_problems(_hoist_body_definitions(generate()))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
