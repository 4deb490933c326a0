"""Triage: grading and escalation. `shouwang-triage` serves it on 127.0.0.1:8002."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from shouwang_contracts.web import (
    FASTAPI_TELEMETRY_OFF,
    TraceContextMiddleware,
    configure_logging,
    install_problem_handlers,
    operations_router,
    serve,
)

from . import metrics
from .bootstrap import Running, bootstrap
from .config import TriageSettings
from .entrypoints.http import router


def create_app(settings: TriageSettings | None = None) -> FastAPI:
    """The FastAPI app; consumers, relay and scheduler start and stop with its lifespan."""
    settings = settings or TriageSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        running = await bootstrap(settings)
        app.state.running = running
        app.state.pool = running.triage.pool
        try:
            yield
        finally:
            await running.close()

    app = FastAPI(
        title="Shouwang triage (守望 · 预警研判与逐级上报)",
        version="1.0.0",
        description="Grades every warning by a versioned policy and escalates it until someone acts.",
        lifespan=lifespan,
        telemetry=FASTAPI_TELEMETRY_OFF,
    )
    app.state.token_verifier = settings.token_verifier()
    install_problem_handlers(app)
    app.include_router(router)

    def running() -> Running:
        return app.state.running  # type: ignore[no-any-return]

    async def kafka_ready() -> bool:
        return await running().ping_kafka()

    async def database_ready() -> bool:
        return await running().ping_database()

    app.include_router(
        operations_router({"kafka": kafka_ready, "database": database_ready}, [metrics.REGISTRY])
    )
    app.add_middleware(TraceContextMiddleware)
    return app


def run() -> None:
    """Console entry point: serve triage (uvicorn, as every service)."""
    settings = TriageSettings()
    configure_logging("triage")
    serve(create_app(settings), settings.host, settings.port)


if __name__ == "__main__":
    run()
