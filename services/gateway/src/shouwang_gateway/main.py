"""The gateway: `shouwang-gateway` serves the web app and the services' APIs on 127.0.0.1:8080."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from shouwang_contracts.web import configure_logging, serve, service_app

from . import metrics
from .bootstrap import Deps, bootstrap
from .config import GatewaySettings
from .entrypoints.http_auth import router as auth_router
from .entrypoints.http_proxy import router as proxy_router
from .entrypoints.http_static import SecurityHeaders
from .entrypoints.http_static import router as static_router

MAX_JSON_BYTES = 64 * 1024
# Census files (intake takes up to 50 MiB) and roster or contact files pass through.
MAX_UPLOAD_BYTES = 51 * 1024 * 1024


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    """The gateway's ASGI app; connections open in the lifespan."""
    settings = settings or GatewaySettings()
    deps: Deps | None = None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        nonlocal deps
        deps = await bootstrap(settings)
        app.state.deps = deps
        try:
            yield
        finally:
            await deps.close()

    async def database_ready() -> bool:
        return deps is not None and await deps.store.ping()

    app = service_app(
        title="Shouwang gateway (守望 · 网关)",
        description="The web app and the services' APIs under one origin; sign-in, sessions.",
        lifespan=lifespan,
        token_verifier=settings.token_verifier(),
        routers=[auth_router, proxy_router],
        readiness={"database": database_ready},
        registry=metrics.REGISTRY,
        http_metrics=metrics.HTTP,
        body_limit=MAX_JSON_BYTES,
        body_limit_overrides={"/api/": MAX_UPLOAD_BYTES},
    )
    # Last, after /healthz, /readyz and /metrics: every other path may be a page of the app.
    app.include_router(static_router)
    app.add_middleware(SecurityHeaders)
    return app


def run() -> None:
    """Console entry point: serve the gateway (uvicorn, as every service)."""
    settings = GatewaySettings()
    configure_logging("gateway", settings.log_level)
    serve(create_app(settings), settings.host, settings.port)


if __name__ == "__main__":
    run()
