"""The edge: everything a request meets before routing, in one ASGI layer.

Each layer costs a coroutine and a wrapped `send` per request, which a busy intake notices, so
trace context, authentication, rate limits (per address without a token, per person with
one), body limits, the fast lane to DirectRoutes and the HTTP metrics share one. Who may
come in is decided by `admission`; the text no query can take is found by `textchecks`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from prometheus_client import CollectorRegistry, Counter, Histogram
from shouwang_contracts.auth import TokenVerifier
from shouwang_contracts.trace import current_traceparent, end_span, incoming_trace_id, start_span
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .admission import AUTHENTICATED_PREFIX, Admission, RouteMatch
from .fastlane import DirectRoute
from .problems import (
    PROBLEM_CODE_SCOPE_KEY,
    BodyTooLarge,
    nul_character,
    problem_response,
    too_large_response,
)
from .ratelimits import PersonLimits, RateLimiter, RouteLimit
from .security import RoleGuard
from .textchecks import declares_json, json_fault, nul_in_target

#: The most of a JSON body the edge keeps to look for text no query can take (see
#: `textchecks`); a larger body passes unchecked to a route that refuses its size.
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
      (`unauthenticated`, `person`, `person_audited_reads`, a route limit's name such as
      intake's `reports`): never by person or address.
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
      requests that carry one, and more tightly the `audited_reads` and the `route_limits`'
      routes among them: 429 too; a route limit gives back a request whose answer it names
      (`RouteLimit.given_back`: intake's refused reports);
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
        route_limits: list[tuple[RouteLimit, list[RouteMatch]]] | None = None,
    ) -> None:
        self.app = app
        self.admission = Admission(
            token_verifier=token_verifier,
            role_guards=role_guards,
            unauthenticated_limiter=unauthenticated_limiter,
            person_limits=person_limits,
            audited_reads=audited_reads,
            route_limits=route_limits,
            rate_limited=metrics.rate_limited if metrics is not None else None,
        )
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
        span = start_span(incoming_trace_id(headers))
        traceparent = (current_traceparent() or "").encode()
        status = 500

        path = _route_path(scope)
        api = path.startswith(AUTHENTICATED_PREFIX)

        async def edge_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                self.admission.answered(scope, status)
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
            refusal = await self.admission.admit(scope, path)
            if (
                refusal is None
                and path.startswith(AUTHENTICATED_PREFIX)
                and nul_in_target(path, scope.get("query_string", b""))
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
            check_json = target is self.app and declares_json(headers)
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
                            fault = json_fault(b"".join(chunks))
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
