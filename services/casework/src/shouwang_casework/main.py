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


#: The reads whose every answer, refusals too, writes an audit row: a person may make fewer of
#: these than of other requests (`SHOUWANG_AUDITED_READS_PER_HOUR`), so one stolen token can
#: neither read the campus's files at machine speed nor flood the audit log.
AUDITED_READS = (
    "GET /v1/cases",  # an audit row per case listed
    "GET /v1/alerts/awaiting-me",  # an audit row per alert listed
    "GET /v1/cases/{case_id}",
    "GET /v1/cases/{case_id}/history",
    "GET /v1/cases/{case_id}/notes",
    "GET /v1/cases/{case_id}/plan",
    "GET /v1/students/{student_ref}/file",
    "GET /v1/students/lookup",
    "GET /v1/students/cards",
)


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
        person_limits=settings.person_limits(settings.database_url),
        audited_reads=AUDITED_READS,
        body_limit=MAX_JSON_BYTES,
        body_limit_overrides={"/v1/roster": MAX_UPLOAD_BYTES},
    )


def run() -> None:
    """Console entry point: serve casework."""
    run_service("casework", create_app, CaseworkSettings())


if __name__ == "__main__":
    run()
