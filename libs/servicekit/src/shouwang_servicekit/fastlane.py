"""The request fast lane, for a service's busiest endpoints (intake's reports and screenings).

A `DirectRoute` endpoint takes the `Request` alone and checks it in the usual order
(`require_roles(...)` for 415/401/403, then `read_json_body` for 400/422); it is documented
with `json_body_openapi`. This skips FastAPI's dependency solving, about a seventh of a
report's CPU; in a `service_app` the edge also hands such a request (on a path without
parameters) straight to its route, another seventh. Everything else declares its
dependencies and body as usual.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from typing import Any, TypeVar, cast

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send

from .openapi import COMPONENT_REF

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


def direct_routes(routers: Iterable[APIRouter]) -> dict[tuple[str, str], DirectRoute]:
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
    schema = model.model_json_schema(ref_template=COMPONENT_REF + "{model}")
    extra: dict[str, Any] = {
        "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}
    }
    if parameters:
        extra["parameters"] = list(parameters)
    return extra
