"""`service_app` around a container: bootstrap when the app starts, `/readyz` from the
container's checks, handlers reach it through `app_container`, `close()` when it stops."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from contextlib import AsyncExitStack
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from prometheus_client import CollectorRegistry
from shouwang_contracts.auth import TokenVerifier, mint_token
from shouwang_contracts.vocabulary import Role
from shouwang_servicekit.app import app_container, close_within, service_app, starting
from shouwang_servicekit.edge import HttpMetrics
from shouwang_servicekit.ops import ReadinessCheck


class Parts:
    def __init__(self) -> None:
        self.database_up = True
        self.closed = False

    async def ping_database(self) -> bool:
        return self.database_up

    async def ping_kafka(self) -> bool:
        return True

    def readiness(self) -> Mapping[str, ReadinessCheck]:
        return {"database": self.ping_database, "kafka": self.ping_kafka}

    async def close(self) -> None:
        self.closed = True


Container = Annotated[Parts, Depends(app_container)]


def _app(parts: Parts) -> FastAPI:
    router = APIRouter(prefix="/v1")

    @router.get("/open")
    async def is_open(container: Container) -> dict[str, bool]:
        return {"same": container is parts, "closed": container.closed}

    async def bootstrap() -> Parts:
        return parts

    registry = CollectorRegistry()
    return service_app(
        title="t",
        description="t",
        bootstrap=bootstrap,
        token_verifier=TokenVerifier(secret="s" * 32),
        routers=[router],
        registry=registry,
        http_metrics=HttpMetrics.register("t", registry),
        body_limit=1000,
    )


async def test_the_container_lives_as_long_as_the_app() -> None:
    parts = Parts()
    app = _app(parts)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            token = mint_token("s" * 32, sub="u", role=Role.COUNSELING_CENTER, campus_id="c")
            opened = await client.get("/v1/open", headers={"Authorization": f"Bearer {token}"})
            assert opened.json() == {"same": True, "closed": False}
            ready = await client.get("/readyz")
            assert ready.status_code == 200
            assert ready.json() == {"status": "ready", "checks": {"database": True, "kafka": True}}
            parts.database_up = False
            not_ready = await client.get("/readyz")
            assert not_ready.status_code == 503
            assert not_ready.json()["checks"] == {"database": False, "kafka": True}
    assert parts.closed


async def test_before_it_started_the_app_is_not_ready() -> None:
    app = _app(Parts())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"started": False}


async def test_a_failed_start_closes_what_had_started_and_a_good_one_keeps_it_open() -> None:
    closed: list[str] = []

    async def close(name: str) -> None:
        closed.append(name)

    async def bootstrap(fail: bool) -> AsyncExitStack:
        async with starting() as stack:
            stack.push_async_callback(close, "pool")
            stack.push_async_callback(close, "broker")
            if fail:
                raise ConnectionRefusedError("Kafka is away")
            return stack

    with pytest.raises(ConnectionRefusedError):
        await bootstrap(fail=True)
    assert closed == ["broker", "pool"]  # newest first

    closed.clear()
    resources = await bootstrap(fail=False)
    assert closed == []
    await resources.aclose()
    assert closed == ["broker", "pool"]


class Stuck(Parts):
    """A container whose close never ends: a handler waiting on a lock nobody releases."""

    async def close(self) -> None:
        await asyncio.Event().wait()


async def test_a_part_that_never_closes_does_not_keep_the_service_from_stopping(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Past its shutdown bound the service exits (its in-flight work uncommitted, done again
    after the restart), naming what still ran, instead of outliving its grace period and being
    killed without a word."""
    waiting = asyncio.create_task(asyncio.Event().wait(), name="consumer:shouwang.cases.v1")
    with caplog.at_level(logging.ERROR, logger="shouwang.app"):
        await asyncio.wait_for(close_within(Stuck(), 0.3), 30)
    waiting.cancel()
    (record,) = [r for r in caplog.records if r.name == "shouwang.app"]
    assert "consumer:shouwang.cases.v1" in record.getMessage()
