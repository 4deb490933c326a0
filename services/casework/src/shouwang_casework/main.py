"""Casework: the closed loop. `shouwang-casework` serves it on 127.0.0.1:8003.

One process: the staff HTTP API, the Kafka consumers (assessments, alerts, and records'
reports/screenings into the student file) and the outbox relay.
"""

from __future__ import annotations

import importlib
import importlib.util
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
from .config import CaseworkSettings
from .entrypoints.http_care import router as care_router
from .entrypoints.http_cases import router as cases_router

MAX_JSON_BYTES = 256 * 1024
MAX_UPLOAD_BYTES = 20 * 1024 * 1024


def _records_routers() -> list:  # type: ignore[type-arg]
    # Records' routers (roster import, student file, audit) join once their modules exist.
    routers = []
    for module in ("http_roster", "http_files"):
        name = f"{__package__}.entrypoints.{module}"
        if importlib.util.find_spec(name) is not None:
            routers.append(importlib.import_module(name).router)
    return routers


def create_app(settings: CaseworkSettings | None = None) -> FastAPI:
    """The casework ASGI app; connections open in the lifespan."""
    settings = settings or CaseworkSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        deps = await bootstrap(settings)
        app.state.deps = deps
        # Records' routers read these names from app.state.
        app.state.db_pool = deps.pool
        app.state.pseudonymizer = deps.pseudonymizer
        app.state.note_cipher = deps.cipher
        try:
            yield
        finally:
            await deps.close()

    app = FastAPI(
        title="Shouwang casework (守望 · 帮扶闭环)",
        version="1.0.0",
        description="Cases and their closed loop, notes, plans, follow-ups, referrals; "
        "the roster, the student file and the audit log.",
        lifespan=lifespan,
        telemetry=FASTAPI_TELEMETRY_OFF,
    )
    app.state.token_verifier = settings.token_verifier()
    install_problem_handlers(app)
    app.include_router(cases_router)
    app.include_router(care_router)
    for router in _records_routers():
        app.include_router(router)

    def state() -> Deps:
        return app.state.deps  # type: ignore[no-any-return]

    async def database_ready() -> bool:
        async with state().pool.acquire() as conn:
            return bool(await conn.fetchval("SELECT true"))

    async def kafka_ready() -> bool:
        return bool(await state().broker.ping(timeout=2))

    app.include_router(
        operations_router({"database": database_ready, "kafka": kafka_ready}, [metrics.REGISTRY])
    )
    app.add_middleware(
        EdgeMiddleware,
        requests=metrics.HTTP_REQUESTS,
        latency=metrics.HTTP_LATENCY,
        body_limit=MAX_JSON_BYTES,
        body_limit_overrides={"/v1/roster": MAX_UPLOAD_BYTES},
    )
    return app


def run() -> None:
    """Console entry point: serve casework (uvicorn, as every service)."""
    settings = CaseworkSettings()
    configure_logging("casework")
    serve(create_app(settings), settings.host, settings.port)


if __name__ == "__main__":
    run()
