"""Errors as RFC 9457 problem+json, titled in zh-CN unless the caller prefers English.

Raise `Problem` anywhere in a request; `install_problem_handlers` (done by `service_app`)
answers it, FastAPI's validation errors, Starlette's HTTP errors and anything unexpected the
same way. Every answer names a stable `code`, which the edge counts in
`<service>_rejections_total`.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from shouwang_contracts.i18n import validation_message
from shouwang_contracts.trace import current_trace_id
from shouwang_contracts.vocabulary import DEFAULT_LANGUAGE, Language
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "urn:shouwang:problem:"
#: The largest integer PostgreSQL's bigint holds: the bound of any number a client sends that
#: reaches a query (ids, cursors, offsets), so an oversized one is a 422, not a failed query.
BIGINT_MAX = 2**63 - 1
#: Where `problem_response` leaves the problem's code for the edge to count.
PROBLEM_CODE_SCOPE_KEY = "shouwang.problem_code"

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
# The framework's own errors: (code, zh-CN detail, English detail).
_HTTP_ERRORS: dict[int, tuple[str, str | None, str | None]] = {
    # Starlette's own 400s say what broke (e.g. "Invalid multipart data."): kept in English.
    400: ("malformed_request", "请求格式有误，无法解析（例如 multipart 数据不完整）", None),
    404: ("not_found", "没有这个地址", "No such resource"),
    405: ("method_not_allowed", "这个地址不支持该请求方法", "This method is not allowed here"),
}
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

logger = logging.getLogger("shouwang.web")


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


class BodyTooLarge(StarletteHTTPException):
    """The request body passed the size limit of its route while it streamed in."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"body exceeds {limit} bytes")
        self.limit = limit


class LoneSurrogate(StarletteHTTPException):
    """The JSON body escapes a UTF-16 surrogate that is not half of a pair: text no UTF-8 can
    hold, refused as malformed JSON before a handler runs (`textchecks.has_lone_surrogate`)."""

    def __init__(self) -> None:
        super().__init__(400, "lone surrogate escape in a JSON string")


def nul_character() -> Problem:
    """422 `nul_character`: the request holds a NUL (`\\u0000`, `%00`), which no PostgreSQL
    text can store (422: documented wherever an operation takes parameters or a body)."""
    return Problem(
        422,
        "nul_character",
        "请求中含有空字符（\\u0000 或 %00），无法处理",
        detail_en="The request holds a NUL character (\\u0000 or %00), which cannot be stored",
    )


class NulCharacter(StarletteHTTPException):
    """The JSON body escapes a NUL character (`textchecks.has_nul`)."""

    def __init__(self) -> None:
        super().__init__(422, "NUL character in a JSON string")


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


def too_large_response(request: Request, limit: int) -> JSONResponse:
    """413 `body_too_large`, whether the limit showed in Content-Length or while streaming."""
    return problem_response(
        request,
        413,
        "body_too_large",
        f"请求体超过 {limit} 字节的上限",
        detail_en=f"The request body exceeds the limit of {limit} bytes",
    )


def _in_language(error: dict[str, Any], english: bool) -> dict[str, Any]:
    """One field error with `message` in the caller's language and no `message_en` key."""
    out = {k: v for k, v in error.items() if k != "message_en"}
    if english and error.get("message_en"):
        out["message"] = error["message_en"]
    return out


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


def _chain(exc: BaseException) -> list[BaseException]:
    """The error and those it was raised from or during, outermost first (cycles cut)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _error_types(exc: BaseException) -> str:
    """`ValueError <- KeyError`: the types of an error's chain, never their messages."""
    return " <- ".join(type(e).__qualname__ for e in _chain(exc))


def _stack(exc: BaseException) -> str:
    """Where each error of the chain was raised (file, line, function, source line), without
    its message: messages carry values (a student number, a name, a pydantic error's input)
    that logs must not hold. The trace id in the log line leads to the request."""
    parts = []
    for error in reversed(_chain(exc)):
        frames = traceback.format_list(traceback.extract_tb(error.__traceback__))
        parts.append(f"{type(error).__qualname__}:\n" + "".join(frames))
    return "\n".join(parts)


def install_problem_handlers(app: FastAPI) -> None:
    """Every error leaves as problem+json; unexpected ones are logged (route template, error
    types and stack, no messages, no raw path) and answered 500."""

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
            return too_large_response(request, exc.limit)
        if isinstance(exc, NulCharacter):
            refusal = nul_character()
            return problem_response(
                request, refusal.status, refusal.code, refusal.detail, detail_en=refusal.detail_en
            )
        if isinstance(exc, LoneSurrogate):
            return problem_response(
                request,
                400,
                "malformed_json",
                "请求体不是合法的 JSON：含有不成对的代理字符转义（\\uD800–\\uDFFF）",
                detail_en="The request body is not valid JSON: it escapes an unpaired surrogate"
                " (\\uD800-\\uDFFF)",
            )
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
        route = getattr(request.scope.get("route"), "path", None) or "unmatched"
        logger.error(
            "unhandled %s on %s %s",
            _error_types(exc),
            request.method,
            route,
            extra={"stack": _stack(exc)},
        )
        return problem_response(request, 500, "internal_error")

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
