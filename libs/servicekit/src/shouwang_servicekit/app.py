"""A service's app, wired as every Shouwang service is, around the container its `bootstrap()`
builds; and the one way handlers reach that container.

    def create_app(settings: NotifySettings | None = None) -> FastAPI:
        settings = settings or NotifySettings()
        return service_app(
            title="Shouwang notify", description="...",
            bootstrap=lambda: bootstrap(settings),
            token_verifier=settings.token_verifier(),
            routers=[router], registry=metrics.REGISTRY, http_metrics=metrics.HTTP,
            body_limit=64 * 1024,
        )

    def run() -> None:
        run_service("notify", create_app, NotifySettings())

Handlers declare `Annotated[Notify, Depends(app_container)]` (an alias per service).
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any, Protocol, TypeVar

from fastapi import APIRouter, FastAPI, Request
from fastapi.telemetry import TelemetryConfig
from prometheus_client import CollectorRegistry
from shouwang_contracts.auth import TokenVerifier
from starlette.types import ASGIApp

from .admission import route_matches
from .edge import EdgeMiddleware, HttpMetrics
from .fastlane import direct_routes
from .logs import configure_logging
from .openapi import document_problems, hoist_body_definitions
from .ops import ReadinessCheck, operations_router
from .problems import install_problem_handlers
from .ratelimits import PersonLimits, RateLimiter, RouteLimit
from .security import role_guards
from .serving import serve
from .sharedlimits import SharedCounter

#: Requests without a valid token one client address may make per minute, by default (the
#: operators' `/healthz`, `/readyz` and `/metrics` are never limited: a probe refused would
#: restart a healthy pod).
UNAUTHENTICATED_PER_MINUTE = 600
_DEFAULT_LIMITER = RateLimiter(1, 1)  # a marker: "the default", never used to limit
_DEFAULT_PERSON_LIMITS = PersonLimits()  # a marker too: `PersonLimits.default()`
#: Seconds a service's parts get to close once it is told to stop: under the 30 s its deploys
#: give it (`terminationGracePeriodSeconds`) before it would be killed. Each part bounds its own
#: wait (a consumer's handler `HANDLER_GRACE_SECONDS`, the pool `POOL_CLOSE_SECONDS`); this is
#: the last resort, which names what was still running.
SHUTDOWN_SECONDS = 20.0

logger = logging.getLogger("shouwang.app")

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


class ServiceContainer(Protocol):
    """What `service_app` asks of the typed container a service's `bootstrap()` returns.

    `readiness()` names the checks `/readyz` runs (e.g. `{"kafka": self.ping_kafka,
    "database": self.ping_database}`); `close()` stops what bootstrap started, in reverse.
    """

    def readiness(self) -> Mapping[str, ReadinessCheck]: ...

    async def close(self) -> None: ...


C = TypeVar("C", bound=ServiceContainer)


class Served(Protocol):
    """Settings that say where a service listens."""

    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int: ...


S = TypeVar("S", bound=Served)


@asynccontextmanager
async def starting() -> AsyncIterator[AsyncExitStack]:
    """What a `bootstrap()` starts, closed newest first: push each resource's close on the
    stack as it starts; if a later step fails, everything started so far is closed and the
    failure raised, so a failed start leaves nothing open. Otherwise the stack stays open and
    the container keeps it, to close it in `close()`.

        async with starting() as stack:
            pool = await asyncpg.create_pool(...)
            stack.push_async_callback(pool.close)
            ...
            return Notify(settings, pool, broker, resources=stack)
    """
    stack = AsyncExitStack()
    try:
        yield stack
    except BaseException:
        await stack.aclose()
        raise


def container_lifespan(
    bootstrap: Callable[[], Awaitable[ServiceContainer]],
    *,
    freeze_gc: bool = False,
    shared_limits: SharedCounter | None = None,
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The lifespan of a service: `bootstrap()` builds the container when the app starts
    (`app.state.container`, read by `app_container`), `close()` ends it when the app stops;
    the person limits' `shared_limits` counter is opened after it and closed before it.

    With `freeze_gc`, everything built so far is moved out of the collector's sight: it lives
    as long as the process, so full collections need not rescan it (shorter pauses, less CPU
    under load; intake uses it).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        container = await bootstrap()
        app.state.container = container
        try:
            if shared_limits is not None:
                await shared_limits.open()
            if freeze_gc:
                gc.freeze()
            yield
        finally:
            try:
                if shared_limits is not None:
                    await shared_limits.close()
            finally:
                await close_within(container, SHUTDOWN_SECONDS)

    return lifespan


async def close_within(container: ServiceContainer, within: float) -> None:
    """`container.close()`, given up after `within` seconds with what was still running named
    in the log: the process then exits with that work uncommitted (done again after the
    restart), as it would have when killed at the end of its grace period, but on time and
    saying why."""
    try:
        await asyncio.wait_for(container.close(), within)
    except TimeoutError:
        current = asyncio.current_task()
        running = sorted(t.get_name() for t in asyncio.all_tasks() if t is not current)
        logger.error(
            "shutdown did not finish within %.0f s; exiting with in-flight work uncommitted"
            " (it is done again after the restart); still running: %s",
            within,
            ", ".join(running) or "nothing",
        )


def app_container(request: Request) -> Any:
    """The container of the app serving `request`: the one way handlers reach their
    dependencies. Declare it typed, once per service:

        Container = Annotated[Intake, Depends(app_container)]

    A `DirectRoute` endpoint (no dependency solving) calls it with its request.
    """
    return request.app.state.container


async def _not_started() -> bool:
    return False


def _readiness(app: FastAPI) -> Mapping[str, ReadinessCheck]:
    container: ServiceContainer | None = getattr(app.state, "container", None)
    return container.readiness() if container is not None else {"started": _not_started}


def service_app(
    *,
    title: str,
    description: str,
    bootstrap: Callable[[], Awaitable[ServiceContainer]],
    token_verifier: TokenVerifier,
    routers: Iterable[APIRouter],
    registry: CollectorRegistry,
    http_metrics: HttpMetrics,
    body_limit: int,
    body_limit_overrides: dict[str, int] | None = None,
    freeze_gc: bool = False,
    unauthenticated_limiter: RateLimiter | None = _DEFAULT_LIMITER,
    person_limits: PersonLimits | None = _DEFAULT_PERSON_LIMITS,
    audited_reads: Iterable[str] = (),
    route_limits: Iterable[RouteLimit] = (),
) -> FastAPI:
    """A service's FastAPI app, wired as every Shouwang service is:

    - the lifespan builds the container with `bootstrap` and closes it (`container_lifespan`);
    - FastAPI's own telemetry off (`FASTAPI_TELEMETRY_OFF`);
    - bearer tokens checked by `token_verifier` at the edge, before any body is read (401),
      and the roles a route declares with `require_roles` checked before FastAPI reads its
      body (403; `security.role_guards`);
    - callers without a valid token limited per address (`unauthenticated_limiter`, by
      default `UNAUTHENTICATED_PER_MINUTE`; None for none): 429 with `Retry-After`;
    - signed-in callers limited per person (`person_limits`, by default
      `PersonLimits.default()`; None for none), and more tightly on the `audited_reads`
      ("GET /v1/cases/{case_id}": the routes whose every answer, refusals too, writes an
      audit row): 429 with `Retry-After`; across replicas when the limits have a `shared`
      counter (`SharedSettings.person_limits(database_url)`), opened and closed with the app;
      and by `route_limits` on their routes (intake's reports), counted with the rest;
    - problem+json for every error, in zh-CN unless the caller prefers English;
    - the service's `/v1` routers, then `/healthz`, `/readyz` (the container's `readiness()`)
      and `/metrics` (the service's `registry`);
    - one `EdgeMiddleware` in front: trace context, the body limit (`body_limit`, or a
      longer path prefix's override), `http_metrics`, and the fast lane to the routers'
      `DirectRoute`s;
    - an OpenAPI document that also describes bodies read with `read_json_body` and the
      problems every operation can answer.
    """
    if person_limits is _DEFAULT_PERSON_LIMITS:
        person_limits = PersonLimits.default()
    route_limits = list(route_limits)
    if route_limits and person_limits is None:
        raise ValueError("route limits are per-person limits: they need person_limits")
    shared_limits = person_limits.shared if person_limits is not None else None
    app = FastAPI(
        title=title,
        version="1.0.0",
        description=description,
        lifespan=container_lifespan(bootstrap, freeze_gc=freeze_gc, shared_limits=shared_limits),
        telemetry=FASTAPI_TELEMETRY_OFF,
    )
    app.state.token_verifier = token_verifier
    install_problem_handlers(app)
    routers = list(routers)
    for router in routers:
        app.include_router(router)
    app.include_router(operations_router(lambda: _readiness(app), [registry]))
    if unauthenticated_limiter is _DEFAULT_LIMITER:
        unauthenticated_limiter = RateLimiter(UNAUTHENTICATED_PER_MINUTE, 60)
    app.add_middleware(
        EdgeMiddleware,
        metrics=http_metrics,
        body_limit=body_limit,
        body_limit_overrides=body_limit_overrides,
        direct_routes=direct_routes(routers),
        token_verifier=token_verifier,
        role_guards=role_guards(routers),
        unauthenticated_limiter=unauthenticated_limiter,
        person_limits=person_limits,
        audited_reads=route_matches(routers, audited_reads),
        route_limits=[(limit, route_matches(routers, limit.routes)) for limit in route_limits],
    )
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(hoist_body_definitions(generate()))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def run_service(service: str, create_app: Callable[[S], ASGIApp], settings: S) -> None:
    """A service's console entry point: JSON logs named `service`, then its app served on
    the settings' host and port (`serve`)."""
    configure_logging(service)
    serve(create_app(settings), settings.host, settings.port)
