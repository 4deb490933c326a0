"""`serve`: every service and the bench's comparison apps run with the same server settings."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from shouwang_servicekit.serving import YOUNG_GC_THRESHOLD, serve


@pytest.fixture
def ran(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """What `uvicorn.run` was called with, and the collector's thresholds at that moment."""
    seen: dict[str, Any] = {}
    threshold = gc.get_threshold()

    def run(app: Any, **options: Any) -> None:
        seen.update(options, app=app, gc_threshold=gc.get_threshold())

    monkeypatch.setattr(uvicorn, "run", run)
    try:
        yield seen
    finally:
        gc.set_threshold(*threshold)


def test_a_served_app_runs_on_one_uvicorn_process_without_access_log(ran: dict[str, Any]) -> None:
    app = FastAPI()
    serve(app, "127.0.0.1", 8123)
    assert ran["app"] is app
    assert (ran["host"], ran["port"]) == ("127.0.0.1", 8123)
    assert ran["access_log"] is False
    assert ran["log_config"] is None
    assert "workers" not in ran


def test_young_objects_are_collected_less_often_than_cpythons_default(
    ran: dict[str, Any],
) -> None:
    gc.set_threshold(700, 10, 10)
    serve(FastAPI(), "127.0.0.1", 8123)
    # Only the young generation changes; the older ones keep their thresholds.
    assert ran["gc_threshold"] == (YOUNG_GC_THRESHOLD, 10, 10)
    assert YOUNG_GC_THRESHOLD >= 10 * 700
