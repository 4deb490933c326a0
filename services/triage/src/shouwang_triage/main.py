"""Triage: grading and escalation. `shouwang-triage` serves it on 127.0.0.1:8002."""

from __future__ import annotations

from fastapi import FastAPI
from shouwang_servicekit.app import run_service, service_app

from . import metrics
from .bootstrap import bootstrap
from .config import TriageSettings
from .entrypoints.http import router

# Triage's API only reads (GET); a body has no business being larger than this.
MAX_JSON_BYTES = 64 * 1024


def create_app(settings: TriageSettings | None = None) -> FastAPI:
    """Triage's app; `bootstrap` starts its consumers, relay and scheduler with it."""
    settings = settings or TriageSettings()
    return service_app(
        title="Shouwang triage (守望 · 预警研判与逐级上报)",
        description="Grades every warning by a versioned policy and escalates it until someone acts.",
        bootstrap=lambda: bootstrap(settings),
        token_verifier=settings.token_verifier(),
        routers=[router],
        registry=metrics.REGISTRY,
        http_metrics=metrics.HTTP,
        unauthenticated_limiter=settings.unauthenticated_limiter(),
        person_limits=settings.person_limits(settings.database_url),
        # Every read of a grade, and every refusal, is appended to grade_reads.
        audited_reads=["GET /v1/students/{student_ref}/grade"],
        body_limit=MAX_JSON_BYTES,
    )


def run() -> None:
    """Console entry point: serve triage."""
    run_service("triage", create_app, TriageSettings())


if __name__ == "__main__":
    run()
