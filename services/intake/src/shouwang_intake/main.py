"""Intake: the front door. `shouwang-intake` serves it on 127.0.0.1:8001."""

from __future__ import annotations

from fastapi import FastAPI
from shouwang_servicekit.app import run_service, service_app

from . import metrics
from .bootstrap import bootstrap
from .config import IntakeSettings
from .entrypoints.http import router, submissions


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    """Intake's app; `bootstrap` builds its parts when it starts."""
    settings = settings or IntakeSettings()
    return service_app(
        title="Shouwang intake (守望 · 预警信息采集)",
        description="Reports from the six-tier network, screenings and census files.",
        bootstrap=lambda: bootstrap(settings),
        token_verifier=settings.token_verifier(),
        routers=[submissions, router],
        registry=metrics.REGISTRY,
        http_metrics=metrics.HTTP,
        unauthenticated_limiter=settings.unauthenticated_limiter(),
        person_limits=settings.person_limits(settings.database_url),
        route_limits=[settings.report_limit()],
        body_limit=settings.max_json_bytes,
        body_limit_overrides={"/v1/screenings/bulk": settings.max_census_bytes},
        freeze_gc=True,  # what bootstrap built lives as long as the process
    )


def run() -> None:
    """Console entry point: serve intake."""
    run_service("intake", create_app, IntakeSettings())


if __name__ == "__main__":
    run()
