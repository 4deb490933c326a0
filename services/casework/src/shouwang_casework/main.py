"""Casework: the closed loop. `shouwang-casework` serves it on 127.0.0.1:8003.

One process: the staff HTTP API, the Kafka consumers (assessments, alerts, and records'
reports/screenings into the student file), the outbox relay and the chores.
"""

from __future__ import annotations

from fastapi import FastAPI
from shouwang_servicekit.app import run_service, service_app

from . import metrics
from .bootstrap import bootstrap
from .config import CaseworkSettings
from .entrypoints.http import ROUTERS

MAX_JSON_BYTES = 256 * 1024
MAX_UPLOAD_BYTES = 20 * 1024 * 1024


def create_app(settings: CaseworkSettings | None = None) -> FastAPI:
    """Casework's app; `bootstrap` builds its parts when it starts."""
    settings = settings or CaseworkSettings()
    return service_app(
        title="Shouwang casework (守望 · 帮扶闭环)",
        description="Cases and their closed loop, notes, plans, follow-ups, referrals; "
        "the roster, the student file and the audit log.",
        bootstrap=lambda: bootstrap(settings),
        token_verifier=settings.token_verifier(),
        routers=ROUTERS,
        registry=metrics.REGISTRY,
        http_metrics=metrics.HTTP,
        unauthenticated_limiter=settings.unauthenticated_limiter(),
        body_limit=MAX_JSON_BYTES,
        body_limit_overrides={"/v1/roster": MAX_UPLOAD_BYTES},
    )


def run() -> None:
    """Console entry point: serve casework."""
    run_service("casework", create_app, CaseworkSettings())


if __name__ == "__main__":
    run()
