"""A small service app, wired by `service_app` as every service is, for the tests of what that
wiring does (the edge, problems, metrics, the OpenAPI document)."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import APIRouter, FastAPI
from prometheus_client import CollectorRegistry
from shouwang_contracts.auth import TokenVerifier
from shouwang_servicekit.app import service_app
from shouwang_servicekit.edge import HttpMetrics
from shouwang_servicekit.ops import ReadinessCheck


class NoParts:
    """A container with nothing to start, check or close."""

    def readiness(self) -> Mapping[str, ReadinessCheck]:
        return {}

    async def close(self) -> None:
        pass


async def _bootstrap() -> NoParts:
    return NoParts()


def small_service(
    *routers: APIRouter, body_limit: int = 1_000_000
) -> tuple[FastAPI, CollectorRegistry]:
    """The app serving `routers`, and the registry its metrics (prefix `t_`) go to."""
    registry = CollectorRegistry()
    app = service_app(
        title="t",
        description="t",
        bootstrap=_bootstrap,
        token_verifier=TokenVerifier(secret="s" * 32),
        routers=list(routers),
        registry=registry,
        http_metrics=HttpMetrics.register("t", registry),
        body_limit=body_limit,
    )
    return app, registry
