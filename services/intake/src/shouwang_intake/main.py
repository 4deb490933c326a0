"""Intake: the front door. `shouwang-intake` serves it on 127.0.0.1:8001."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from shouwang_contracts.web import configure_logging, serve, service_app

from . import metrics
from .bootstrap import Deps, bootstrap
from .config import IntakeSettings
from .entrypoints.http import router, submissions


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    deps: Deps | None = None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        nonlocal deps
        deps = await bootstrap(settings)
        app.state.deps = deps
        # Everything built so far lives as long as the process: keep the collector from
        # rescanning it on every full collection (shorter pauses, less CPU under load).
        gc.freeze()
        try:
            yield
        finally:
            await deps.close()

    async def kafka_ready() -> bool:
        return deps is not None and await deps.reports_publisher.ping()

    async def database_ready() -> bool:
        return deps is not None and await deps.store.ping()

    return service_app(
        title="Shouwang intake (守望 · 预警信息采集)",
        description="Reports from the six-tier network, screenings and census files.",
        lifespan=lifespan,
        token_verifier=settings.token_verifier(),
        routers=[submissions, router],
        readiness={"kafka": kafka_ready, "database": database_ready},
        registry=metrics.REGISTRY,
        http_metrics=metrics.HTTP,
        body_limit=settings.max_json_bytes,
        body_limit_overrides={"/v1/screenings/bulk": settings.max_census_bytes},
    )


def run() -> None:
    """Console entry point: serve intake (uvicorn, as every service)."""
    settings = IntakeSettings()
    configure_logging("intake")
    serve(create_app(settings), settings.host, settings.port)


if __name__ == "__main__":
    run()
