"""A small service app, wired by `service_app` as every service is, for the tests of what that
wiring does (the edge, problems, metrics, the OpenAPI document)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, FastAPI
from prometheus_client import CollectorRegistry
from shouwang_contracts.auth import TokenVerifier, mint_token
from shouwang_contracts.vocabulary import Role
from shouwang_servicekit.app import service_app
from shouwang_servicekit.edge import HttpMetrics
from shouwang_servicekit.ops import ReadinessCheck


class NoParts:
    """A container with nothing to start, check or close."""

    def readiness(self) -> Mapping[str, ReadinessCheck]:
        return {}

    async def close(self) -> None:
        pass


SECRET = "s" * 32
#: A staff member's token the small service accepts: the edge asks one of every /v1 request.
AUTHORIZED = {
    "Authorization": "Bearer "
    + mint_token(SECRET, sub="t", role=Role.COUNSELING_CENTER, campus_id="c")
}


async def _bootstrap() -> NoParts:
    return NoParts()


def small_service(
    *routers: APIRouter, body_limit: int = 1_000_000, **options: Any
) -> tuple[FastAPI, CollectorRegistry]:
    """The app serving `routers`, and the registry its metrics (prefix `t_`) go to."""
    registry = CollectorRegistry()
    app = service_app(
        title="t",
        description="t",
        bootstrap=_bootstrap,
        token_verifier=TokenVerifier(secret=SECRET),
        routers=list(routers),
        registry=registry,
        http_metrics=HttpMetrics.register("t", registry),
        body_limit=body_limit,
        **options,
    )
    return app, registry
