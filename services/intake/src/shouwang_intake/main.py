"""Intake: the front door. `shouwang-intake` serves it on 127.0.0.1:8001."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from shouwang_contracts.web import (
    FASTAPI_TELEMETRY_OFF,
    EdgeMiddleware,
    configure_logging,
    install_problem_handlers,
    operations_router,
    serve,
)

from . import metrics
from .bootstrap import Deps, bootstrap
from .config import IntakeSettings
from .entrypoints.http import router


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        deps = await bootstrap(settings)
        app.state.deps = deps
        # Everything built so far lives as long as the process: keep the collector from
        # rescanning it on every full collection (shorter pauses, less CPU under load).
        gc.freeze()
        try:
            yield
        finally:
            await deps.close()

    app = FastAPI(
        title="Shouwang intake (守望 · 预警信息采集)",
        version="1.0.0",
        description="Reports from the six-tier network, screenings and census files.",
        lifespan=lifespan,
        telemetry=FASTAPI_TELEMETRY_OFF,
    )
    app.state.token_verifier = settings.token_verifier()
    install_problem_handlers(app)
    app.include_router(router)

    def state() -> Deps:
        return app.state.deps  # type: ignore[no-any-return]

    async def kafka_ready() -> bool:
        return await state().reports_publisher.ping()

    async def database_ready() -> bool:
        return await state().store.ping()

    app.include_router(
        operations_router({"kafka": kafka_ready, "database": database_ready}, [metrics.REGISTRY])
    )
    app.add_middleware(
        EdgeMiddleware,
        requests=metrics.HTTP_REQUESTS,
        latency=metrics.HTTP_LATENCY,
        body_limit=settings.max_json_bytes,
        body_limit_overrides={"/v1/screenings/bulk": settings.max_census_bytes},
    )
    return app


def run() -> None:
    """Console entry point: serve intake (uvicorn, as every service)."""
    settings = IntakeSettings()
    configure_logging("intake")
    serve(create_app(settings), settings.host, settings.port)


if __name__ == "__main__":
    run()
