"""The gateway: `shouwang-gateway` serves the web app and the services' APIs on 127.0.0.1:8080."""

from __future__ import annotations

from fastapi import FastAPI
from shouwang_servicekit.app import run_service, service_app

from . import metrics
from .bootstrap import bootstrap
from .config import GatewaySettings
from .entrypoints.http_auth import router as auth_router
from .entrypoints.http_proxy import router as proxy_router
from .entrypoints.http_static import SecurityHeaders
from .entrypoints.http_static import router as static_router

MAX_JSON_BYTES = 64 * 1024
# Census files (intake takes up to 50 MiB) and roster or contact files pass through.
MAX_UPLOAD_BYTES = 51 * 1024 * 1024


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    """The gateway's app; `bootstrap` builds its parts when it starts."""
    settings = settings or GatewaySettings()
    app = service_app(
        title="Shouwang gateway (守望 · 网关)",
        description="The web app and the services' APIs under one origin; sign-in, sessions.",
        bootstrap=lambda: bootstrap(settings),
        token_verifier=settings.token_verifier(),
        routers=[auth_router, proxy_router],
        registry=metrics.REGISTRY,
        http_metrics=metrics.HTTP,
        body_limit=MAX_JSON_BYTES,
        body_limit_overrides={"/api/": MAX_UPLOAD_BYTES},
        # Its callers are browsers with session cookies, not bearer tokens, often a whole
        # campus behind one address: the per-address limit of token-less callers would throttle
        # every page. Sign-in has its own throttle (http_auth), the services behind theirs.
        unauthenticated_limiter=None,
    )
    # Last, after /healthz, /readyz and /metrics: every other path may be a page of the app.
    app.include_router(static_router)
    app.add_middleware(SecurityHeaders, https=settings.cookie_secure)
    return app


def run() -> None:
    """Console entry point: serve the gateway."""
    run_service("gateway", create_app, GatewaySettings())


if __name__ == "__main__":
    run()
