"""What operators ask every service, without a token: alive, ready, and its metrics."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping

import anyio
from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

#: One dependency's readiness: True when it answers.
ReadinessCheck = Callable[[], Awaitable[bool]]
#: How long one readiness check may take before it counts as "not ready".
READINESS_TIMEOUT_SECONDS = 2.0


def operations_router(
    checks: Mapping[str, ReadinessCheck] | Callable[[], Mapping[str, ReadinessCheck]],
    registries: Iterable[CollectorRegistry],
) -> APIRouter:
    """`/healthz` (process alive), `/readyz` (every dependency answers), `/metrics`.

    `checks` may be a function giving them, read at each `/readyz` (the container that holds
    them exists only once the lifespan started).
    """
    router = APIRouter(tags=["operations"])
    registry_list = list(registries)

    @router.get("/healthz", operation_id="healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", operation_id="readyz", include_in_schema=False)
    async def readyz() -> Response:
        results: dict[str, bool] = {}
        for name, check in (checks() if callable(checks) else checks).items():
            try:
                with anyio.fail_after(READINESS_TIMEOUT_SECONDS):
                    results[name] = await check()
            except Exception:  # a failing dependency is "not ready", never a 500
                results[name] = False
        ready = all(results.values())
        return JSONResponse(
            {"status": "ready" if ready else "not_ready", "checks": results},
            status_code=200 if ready else 503,
        )

    @router.get("/metrics", operation_id="metrics", include_in_schema=False)
    async def metrics() -> Response:
        body = b"".join(generate_latest(r) for r in registry_list)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return router
