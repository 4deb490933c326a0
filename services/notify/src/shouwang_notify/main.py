"""Notify: staff and families hear in time, once. `shouwang-notify` serves it on 127.0.0.1:8004.

One process: the /v1 API for contacts and the delivery log, the /ack pages, the Kafka
consumers, the delivery workers, the outbox relay and the chores.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from shouwang_servicekit.app import run_service, service_app

from . import metrics
from .bootstrap import bootstrap
from .config import NotifySettings
from .entrypoints.http import router
from .entrypoints.http_ack import document_pages
from .entrypoints.http_ack import router as ack_router
from .entrypoints.http_contact_reads import router as contact_reads_router
from .entrypoints.http_imports import router as imports_router
from .entrypoints.http_settings import router as settings_router

MAX_JSON_BYTES = 64 * 1024
#: Every router of the app, each included by the kit (which guards each route's roles at the
#: edge, before a body is read): never a router inside another.
ROUTERS = (router, imports_router, settings_router, contact_reads_router, ack_router)
#: The reads whose every answer writes a row of the contact-read trail (adapters/
#: contact_reads.py): a person may make fewer of these than of other requests
#: (`SHOUWANG_AUDITED_READS_PER_HOUR`, as casework's file reads), so a stolen admin token
#: cannot walk 学号 through every family's contacts at machine speed.
AUDITED_READS = (
    "GET /v1/contacts/family/{student_no}",
    "GET /v1/contacts/staff/{number}",
)


def create_app(settings: NotifySettings | None = None) -> FastAPI:
    """Notify's app; `bootstrap` builds its parts when it starts."""
    settings = settings or NotifySettings()
    app = service_app(
        title="Shouwang notify (守望 · 通知)",
        description="Contacts, the delivery log and the acknowledgement pages of the messages "
        "that reach staff and families.",
        bootstrap=lambda: bootstrap(settings),
        token_verifier=settings.token_verifier(),
        routers=list(ROUTERS),
        registry=metrics.REGISTRY,
        http_metrics=metrics.HTTP,
        unauthenticated_limiter=settings.unauthenticated_limiter(),
        person_limits=settings.person_limits(settings.database_url),
        audited_reads=AUDITED_READS,
        body_limit=MAX_JSON_BYTES,
        body_limit_overrides={"/v1/imports": settings.max_upload_bytes + 64 * 1024},
    )
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_pages(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def run() -> None:
    """Console entry point: serve notify."""
    run_service("notify", create_app, NotifySettings())


if __name__ == "__main__":
    run()
