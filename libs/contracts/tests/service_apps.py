"""A small service app, wired by `service_app` as every service is, for the tests of what that
wiring does (the edge, problems, metrics, the OpenAPI document)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from prometheus_client import CollectorRegistry
from shouwang_contracts.auth import TokenVerifier
from shouwang_contracts.web import HttpMetrics, service_app


@asynccontextmanager
async def _no_lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield


def small_service(
    *routers: APIRouter, body_limit: int = 1_000_000
) -> tuple[FastAPI, CollectorRegistry]:
    """The app serving `routers`, and the registry its metrics (prefix `t_`) go to."""
    registry = CollectorRegistry()
    app = service_app(
        title="t",
        description="t",
        lifespan=_no_lifespan,
        token_verifier=TokenVerifier(secret="s" * 32),
        routers=list(routers),
        readiness={},
        registry=registry,
        http_metrics=HttpMetrics.register("t", registry),
        body_limit=body_limit,
    )
    return app, registry
