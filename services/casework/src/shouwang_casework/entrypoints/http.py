"""Casework's HTTP API under /v1, every router in one list (the order of the document)."""

from __future__ import annotations

from fastapi import APIRouter

from .http_care import router as care_router
from .http_cases import router as cases_router
from .http_erasure import router as erasure_router
from .http_files import router as files_router
from .http_queue import router as queue_router
from .http_roster import router as roster_router
from .http_students import router as students_router

ROUTERS: list[APIRouter] = [
    queue_router,  # before cases_router: /v1/cases/count before /v1/cases/{case_id}
    cases_router,
    care_router,
    roster_router,
    files_router,
    erasure_router,
    students_router,
]
