"""Casework: the closed loop. `shouwang-casework` serves it on 127.0.0.1:8003.

One process: the staff HTTP API, the Kafka consumers (assessments, alerts, and records'
reports/screenings into the student file) and the outbox relay.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from shouwang_contracts.web import configure_logging, serve, service_app

from . import metrics
from .bootstrap import Deps, bootstrap
from .config import CaseworkSettings
from .entrypoints.http_care import router as care_router
from .entrypoints.http_cases import router as cases_router
from .entrypoints.http_files import router as files_router
from .entrypoints.http_roster import router as roster_router
from .entrypoints.http_students import router as students_router

MAX_JSON_BYTES = 256 * 1024
MAX_UPLOAD_BYTES = 20 * 1024 * 1024


def create_app(settings: CaseworkSettings | None = None) -> FastAPI:
    """The casework ASGI app; connections open in the lifespan."""
    settings = settings or CaseworkSettings()
    deps: Deps | None = None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        nonlocal deps
        deps = await bootstrap(settings)
        app.state.deps = deps
        # The roster and file routers read these names from app.state.
        app.state.db_pool = deps.pool
        app.state.pseudonymizer = deps.pseudonymizer
        app.state.note_cipher = deps.cipher
        try:
            yield
        finally:
            await deps.close()

    async def database_ready() -> bool:
        if deps is None:
            return False
        async with deps.pool.acquire() as conn:
            return bool(await conn.fetchval("SELECT true"))

    async def kafka_ready() -> bool:
        return deps is not None and bool(await deps.broker.ping(timeout=2))

    return service_app(
        title="Shouwang casework (守望 · 帮扶闭环)",
        description="Cases and their closed loop, notes, plans, follow-ups, referrals; "
        "the roster, the student file and the audit log.",
        lifespan=lifespan,
        token_verifier=settings.token_verifier(),
        routers=[cases_router, care_router, roster_router, files_router, students_router],
        readiness={"database": database_ready, "kafka": kafka_ready},
        registry=metrics.REGISTRY,
        http_metrics=metrics.HTTP,
        body_limit=MAX_JSON_BYTES,
        body_limit_overrides={"/v1/roster": MAX_UPLOAD_BYTES},
    )


def run() -> None:
    """Console entry point: serve casework (uvicorn, as every service)."""
    settings = CaseworkSettings()
    configure_logging("casework")
    serve(create_app(settings), settings.host, settings.port)


if __name__ == "__main__":
    run()
