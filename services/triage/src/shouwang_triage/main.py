"""Triage: grading and escalation. `shouwang-triage` serves it on 127.0.0.1:8002."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from shouwang_contracts.web import configure_logging, serve, service_app

from . import metrics
from .bootstrap import Running, bootstrap
from .config import TriageSettings
from .entrypoints.http import router

# Triage's API only reads (GET); a body has no business being larger than this.
MAX_JSON_BYTES = 64 * 1024


def create_app(settings: TriageSettings | None = None) -> FastAPI:
    """The FastAPI app; consumers, relay and scheduler start and stop with its lifespan."""
    settings = settings or TriageSettings()
    running: Running | None = None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        nonlocal running
        running = await bootstrap(settings)
        app.state.running = running
        app.state.pool = running.triage.pool
        try:
            yield
        finally:
            await running.close()

    async def kafka_ready() -> bool:
        return running is not None and await running.ping_kafka()

    async def database_ready() -> bool:
        return running is not None and await running.ping_database()

    return service_app(
        title="Shouwang triage (守望 · 预警研判与逐级上报)",
        description="Grades every warning by a versioned policy and escalates it until someone acts.",
        lifespan=lifespan,
        token_verifier=settings.token_verifier(),
        routers=[router],
        readiness={"kafka": kafka_ready, "database": database_ready},
        registry=metrics.REGISTRY,
        http_metrics=metrics.HTTP,
        body_limit=MAX_JSON_BYTES,
    )


def run() -> None:
    """Console entry point: serve triage (uvicorn, as every service)."""
    settings = TriageSettings()
    configure_logging("triage")
    serve(create_app(settings), settings.host, settings.port)


if __name__ == "__main__":
    run()
