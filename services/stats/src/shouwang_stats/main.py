"""Stats: the outcomes a college reports. `shouwang-stats` serves it on 127.0.0.1:8005."""

from __future__ import annotations

from fastapi import FastAPI
from shouwang_servicekit.app import run_service, service_app

from . import metrics
from .bootstrap import bootstrap
from .config import StatsSettings
from .entrypoints.http import router

# The API only reads (GET); a body has no business being larger than this.
MAX_JSON_BYTES = 16 * 1024


def create_app(settings: StatsSettings | None = None) -> FastAPI:
    """Stats' app; `bootstrap` starts its consumers and chores with it."""
    settings = settings or StatsSettings()
    return service_app(
        title="Shouwang stats (守望 · 成效统计)",
        description="The outcomes a college reports: aggregates only, small cells suppressed.",
        bootstrap=lambda: bootstrap(settings),
        token_verifier=settings.token_verifier(),
        routers=[router],
        registry=metrics.REGISTRY,
        http_metrics=metrics.HTTP,
        # Counted once across the replicas, in stats' own person_limits table.
        person_limits=settings.person_limits(settings.database_url),
        body_limit=MAX_JSON_BYTES,
    )


def run() -> None:
    """Console entry point: serve stats."""
    run_service("stats", create_app, StatsSettings())


if __name__ == "__main__":
    run()
