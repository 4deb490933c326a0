"""The edge: everything a request meets before routing, in one ASGI layer.

Each layer costs a coroutine and a wrapped `send` per request, which a busy intake notices, so
trace context, body limits, the fast lane to DirectRoutes and the HTTP metrics share one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from prometheus_client import CollectorRegistry, Counter, Histogram
from shouwang_contracts.trace import current_traceparent, end_span, incoming_trace_id, start_span
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .fastlane import DirectRoute
from .problems import PROBLEM_CODE_SCOPE_KEY, BodyTooLarge, too_large_response


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
        span = start_span(incoming_trace_id(headers))
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
                    await too_large_response(Request(scope), limit)(scope, receive, edge_send)
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
