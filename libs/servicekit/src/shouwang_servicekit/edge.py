"""The edge: everything a request meets before routing, in one ASGI layer.

Each layer costs a coroutine and a wrapped `send` per request, which a busy intake notices, so
trace context, authentication, rate limits (per address without a token, per person with
one), body limits, the fast lane to DirectRoutes and the HTTP metrics share one.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from prometheus_client import CollectorRegistry, Counter, Histogram
from shouwang_contracts.auth import Principal, TokenVerifier
from shouwang_contracts.trace import current_traceparent, end_span, incoming_trace_id, start_span
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .fastlane import DirectRoute
from .problems import (
    PROBLEM_CODE_SCOPE_KEY,
    BodyTooLarge,
    LoneSurrogate,
    NulCharacter,
    Problem,
    nul_character,
    problem_response,
    too_large_response,
)
from .ratelimits import PersonLimits, RateLimiter, person_key, too_many_requests
from .security import PRINCIPAL_SCOPE_KEY, RoleGuard, authenticate, bearer_token, role_forbidden

#: Paths under this prefix need a bearer token; the rest (`/healthz`, `/readyz`, `/metrics`,
#: the OpenAPI document) are public.
AUTHENTICATED_PREFIX = "/v1/"
#: The operators' paths, never rate limited: a refused probe would restart a healthy pod.
OPERATIONS_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
#: The most of a JSON body the edge keeps to look for text no query can take (see
#: `has_lone_surrogate`); a larger body passes unchecked to a route that refuses its size.
JSON_CHECK_MAX_BYTES = 1024 * 1024
#: On every `/v1` answer (refusals too), which may hold personal data: no browser or proxy
#: keeps it on disk, and no browser reads it as anything but what it says it is.
API_HEADERS = ((b"cache-control", b"no-store"), (b"x-content-type-options", b"nosniff"))


@dataclass(frozen=True, slots=True)
class HttpMetrics:
    """What `EdgeMiddleware` counts for a service:

    - `<service>_http_requests_total` and `<service>_http_request_duration_seconds`, by route
      template (never the raw path, whose ids are many), method and status;
    - `<service>_rejections_total`, every 4xx and 5xx answer by its problem+json `code`
      (auth, validation, size, media type, conflicts, Kafka unavailable and the rest);
    - `<service>_rate_limited_total`, the requests a rate limit refused, by which limit
      (`unauthenticated`, `person`, `person_audited_reads`): never by person or address.
    """

    requests: Counter
    latency: Histogram
    rejections: Counter
    rate_limited: Counter

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
            Counter(
                f"{service}_rate_limited_total",
                "Requests refused 429 by a rate limit, by limit (unauthenticated, person, "
                "person_audited_reads).",
                ["limit"],
                registry=registry,
            ),
        )


@dataclass(frozen=True, slots=True)
class RouteMatch:
    """The method and path of one route, matched before routing."""

    methods: frozenset[str]
    path: re.Pattern[str]

    def matches(self, method: str, path: str) -> bool:
        return method in self.methods and self.path.match(path) is not None


def route_matches(routers: Iterable[APIRouter], named: Iterable[str]) -> list[RouteMatch]:
    """The routes `named` as "METHOD /template" (e.g. "GET /v1/cases/{case_id}"); a name no
    route of `routers` answers to is a mistake, raised at once (a renamed route would
    otherwise leave its reads unlimited without a word)."""
    wanted = set(named)
    found: list[RouteMatch] = []
    for router in routers:
        for route in router.routes:
            if not isinstance(route, APIRoute):
                continue
            for method in route.methods or ():
                name = f"{method} {route.path}"
                if name in wanted:
                    wanted.discard(name)
                    found.append(RouteMatch(frozenset({method}), route.path_regex))
    if wanted:
        raise ValueError(f"no route answers to {', '.join(sorted(wanted))}")
    return found


# A JSON string escape of a UTF-16 surrogate: high (D800-DBFF) or low (DC00-DFFF).
_HIGH = rb"\\u[dD][89abAB][0-9a-fA-F]{2}"
_LOW = rb"\\u[dD][c-fC-F][0-9a-fA-F]{2}"
_UNPAIRED = re.compile(_HIGH + rb"(?!" + _LOW + rb")|(?<!" + _HIGH + rb")" + _LOW)
_ESCAPED_BACKSLASH = re.compile(rb"\\\\")


def has_lone_surrogate(body: bytes) -> bool:
    """Whether a JSON text escapes a surrogate that is not half of a pair (`"\\ud800"`).

    Python's `json` accepts one, and the string then fails wherever it is encoded (sealing a
    note, PostgreSQL, the answer): a 500 from a malformed body. Escaped backslashes are
    blanked first, so `"\\\\ud800"` (a backslash, then letters) is text, not an escape.
    """
    if b"\\u" not in body:
        return False
    return _UNPAIRED.search(_ESCAPED_BACKSLASH.sub(b"__", body)) is not None


def has_nul(body: bytes) -> bool:
    """Whether a JSON text escapes a NUL character (`"\\u0000"`), which no PostgreSQL text
    column or parameter can hold: the query would fail as a 500."""
    if b"\\u0000" not in body:
        return False
    return b"\\u0000" in _ESCAPED_BACKSLASH.sub(b"__", body)


def _json_fault(body: bytes) -> Exception | None:
    if has_lone_surrogate(body):
        return LoneSurrogate()
    if has_nul(body):
        return NulCharacter()
    return None


def _nul_in_target(path: str, query: bytes) -> bool:
    """A NUL in the (decoded) path or the query string: `/v1/students/%00/file`."""
    return "\x00" in path or b"%00" in query


def _declares_json(headers: Any) -> bool:
    for name, value in headers:
        if name == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            return bool(media == b"application/json" or media.endswith(b"+json"))
    return False


def _route_path(scope: Scope) -> str:
    """The path the routers match: without the `root_path` a proxy mounted the app under."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and (path == root_path or path.startswith(root_path + "/")):
        return path[len(root_path) :]
    return path


class EdgeMiddleware:
    """Everything a request meets before routing:

    - adopts an incoming W3C `traceparent` or starts a trace, and echoes it in the response;
    - with a `token_verifier`, authenticates every request under `/v1/` before anything reads
      its body (401 at once, however much the client still means to send) and leaves the
      principal in the scope for the routes (`security.PRINCIPAL_SCOPE_KEY`), and refuses
      the roles a route does not admit (`role_guards`) before the body is read, too;
    - with an `unauthenticated_limiter`, limits per client address the requests that carry
      no valid token (public paths and refused tokens alike): 429 with `Retry-After`;
    - with `person_limits`, limits per person (the token's campus and subject) the `/v1`
      requests that carry one, and more tightly the `audited_reads` among them: 429 too;
    - refuses bodies over a size limit (per path prefix), by header or while streaming, and
      JSON bodies that escape a lone surrogate (400) or a NUL, and `/v1` paths and query
      strings that hold a NUL (422): text no query can take, refused before it fails as a 500;
    - hands requests for `direct_routes` (method and path) straight to their route;
    - marks every `/v1` answer `Cache-Control: no-store` and `nosniff` (`API_HEADERS`);
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
        token_verifier: TokenVerifier | None = None,
        role_guards: list[RoleGuard] | None = None,
        unauthenticated_limiter: RateLimiter | None = None,
        person_limits: PersonLimits | None = None,
        audited_reads: list[RouteMatch] | None = None,
    ) -> None:
        self.app = app
        self.person_limits = person_limits
        self.audited_reads = audited_reads or []
        self.verifier = token_verifier
        self.role_guards = role_guards or []
        self.unauthenticated_limiter = unauthenticated_limiter
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

    async def _admit(self, scope: Scope, path: str) -> Problem | None:
        """Authenticate a `/v1/` request and limit callers without a valid token; the
        refusal, or None to go on. Reads no body."""
        needs_token = self.verifier is not None and path.startswith(AUTHENTICATED_PREFIX)
        if needs_token:
            assert self.verifier is not None
            try:
                principal = await authenticate(
                    self.verifier, bearer_token(scope.get("headers", ()))
                )
            except Problem as refused:
                return self._limited(scope) or refused
            scope[PRINCIPAL_SCOPE_KEY] = principal
            for guard in self.role_guards:
                if guard.refuses(scope["method"], path, principal.role):
                    return role_forbidden(principal.role, guard.allowed)
            return self._person_limited(principal, scope["method"], path)
        if path in OPERATIONS_PATHS:
            return None
        return self._limited(scope)

    def _limited(self, scope: Scope) -> Problem | None:
        """429 when the unauthenticated caller's address is over its limit."""
        if self.unauthenticated_limiter is None:
            return None
        client = scope.get("client")
        wait = self.unauthenticated_limiter.acquire(client[0] if client else "unknown")
        if wait:
            self._count_limited("unauthenticated")
            return too_many_requests(wait, ("未认证的请求", "unauthenticated requests"))
        return None

    def _person_limited(self, principal: Principal, method: str, path: str) -> Problem | None:
        """429 when the signed-in person is over their limit of requests, or of reads that
        write an audit row. Checked after the role guard: a refused role costs nothing."""
        limits = self.person_limits
        if limits is None:
            return None
        key = person_key(principal.campus_id, principal.sub)
        if limits.requests is not None:
            wait = limits.requests.acquire(key)
            if wait:
                self._count_limited("person")
                return too_many_requests(wait, ("请求", "requests"))
        if limits.audited_reads is not None and any(
            read.matches(method, path) for read in self.audited_reads
        ):
            wait = limits.audited_reads.acquire(key)
            if wait:
                self._count_limited("person_audited_reads")
                return too_many_requests(
                    wait, ("查阅学生档案和个案", "reads of student files and cases")
                )
        return None

    def _count_limited(self, limit: str) -> None:
        if self.metrics is not None:
            self.metrics.rate_limited.labels(limit).inc()

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
        span = start_span(incoming_trace_id(headers))
        traceparent = (current_traceparent() or "").encode()
        status = 500

        path = _route_path(scope)
        api = path.startswith(AUTHENTICATED_PREFIX)

        async def edge_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                sent = [*message.get("headers", ()), (b"traceparent", traceparent)]
                if api:
                    named = {name.lower() for name, _ in sent}
                    sent += [h for h in API_HEADERS if h[0] not in named]
                message["headers"] = sent
            await send(message)

        limit = self._limit(scope["path"])
        target = self.app
        if self.direct_routes:
            direct = self.direct_routes.get((scope["method"], path))
            if direct is not None:
                target = direct.serve_direct
        try:
            refusal = await self._admit(scope, path)
            if (
                refusal is None
                and path.startswith(AUTHENTICATED_PREFIX)
                and _nul_in_target(path, scope.get("query_string", b""))
            ):
                refusal = nul_character()
            if refusal is not None:
                await problem_response(
                    Request(scope),
                    refusal.status,
                    refusal.code,
                    refusal.detail,
                    detail_en=refusal.detail_en,
                    headers=refusal.headers,
                )(scope, receive, edge_send)
                return
            # A DirectRoute parses with pydantic, which refuses lone surrogates itself.
            check_json = target is self.app and _declares_json(headers)
            if limit is None and not check_json:
                await target(scope, receive, edge_send)
                return
            for name, value in headers:
                if (
                    limit is not None
                    and name == b"content-length"
                    and value.isdigit()
                    and int(value) > limit
                ):
                    await too_large_response(Request(scope), limit)(scope, receive, edge_send)
                    return
            received = 0
            chunks: list[bytes] = []

            async def checked_receive() -> Message:
                nonlocal received, check_json
                message = await receive()
                if message["type"] == "http.request":
                    body = message.get("body", b"")
                    received += len(body)
                    if limit is not None and received > limit:
                        raise BodyTooLarge(limit)
                    if check_json and received > JSON_CHECK_MAX_BYTES:
                        # Larger than any JSON body a service takes (the gateway passes it on
                        # to one that refuses it): not held in memory here for the check.
                        check_json = False
                        chunks.clear()
                    if check_json:
                        chunks.append(body)
                        if not message.get("more_body", False):
                            fault = _json_fault(b"".join(chunks))
                            if fault is not None:
                                raise fault
                return message

            await target(scope, checked_receive, edge_send)
        finally:
            end_span(span)
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
