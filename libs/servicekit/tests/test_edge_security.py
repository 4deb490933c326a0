"""The edge refuses strangers before they cost the service anything.

FastAPI parses a multipart body (to a temporary file) before it solves a route's
dependencies, so an authentication dependency alone runs only after a 50 MiB upload landed on
the pod's disk. These tests talk to a real uvicorn server over a socket, announce a large
body, send a sliver of it and expect the refusal while the rest is still unsent.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Annotated

import httpx
import pytest
import uvicorn
from fastapi import APIRouter, Depends, File, UploadFile
from shouwang_contracts.auth import Principal, mint_token
from shouwang_contracts.vocabulary import Role
from shouwang_servicekit.ratelimits import RateLimiter
from shouwang_servicekit.security import CurrentPrincipal, require_roles, role_guards

from .service_apps import small_service

SECRET = "s" * 32
ANNOUNCED = 50 * 1024 * 1024
SLIVER = 64 * 1024
uploads_read: list[int] = []

router = APIRouter(prefix="/v1")


@router.post("/files")
async def upload(
    principal: Annotated[Principal, Depends(require_roles(Role.CAMPUS_ADMIN))],
    file: Annotated[UploadFile, File()],
) -> dict[str, int]:
    data = await file.read()
    uploads_read.append(len(data))
    return {"bytes": len(data)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def serving(limiter: RateLimiter | None = None) -> AsyncIterator[int]:
    """A real uvicorn server for the app, on a free port, while the block runs."""
    options = {"unauthenticated_limiter": limiter} if limiter is not None else {}
    app, _ = small_service(router, body_limit=ANNOUNCED + 1024, **options)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(600):
        if server.started:
            break
        await asyncio.sleep(0.05)
    try:
        yield port
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)


async def _announce_big_upload(port: int, authorization: str | None) -> tuple[bytes, int]:
    """Announce a 50 MiB multipart upload, send 64 KiB of it, then read the answer.

    Returns the answer's status line and how many body bytes had been sent when it came.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = [
        "POST /v1/files HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Content-Type: multipart/form-data; boundary=xyz",
        f"Content-Length: {ANNOUNCED}",
    ]
    if authorization:
        head.append(f"Authorization: {authorization}")
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
    preamble = b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.xlsx"\r\n\r\n'
    writer.write(preamble + b"x" * (SLIVER - len(preamble)))
    await writer.drain()
    try:
        status_line = await asyncio.wait_for(reader.readline(), 30)
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    return status_line, SLIVER


async def test_an_unauthenticated_upload_is_refused_before_its_body_fills_the_disk() -> None:
    uploads_read.clear()
    async with serving() as port:
        status_line, sent = await _announce_big_upload(port, None)
        forged, _ = await _announce_big_upload(port, "Bearer not-a-token")
    assert status_line.startswith(b"HTTP/1.1 401"), status_line
    assert forged.startswith(b"HTTP/1.1 401"), forged
    assert sent < ANNOUNCED  # answered while 49.9 MiB were still to come
    assert uploads_read == []


async def test_a_role_the_route_refuses_is_refused_before_its_body_is_read() -> None:
    uploads_read.clear()
    student = mint_token(SECRET, sub="s1", role=Role.DORM_LEADER, campus_id="c")
    async with serving() as port:
        status_line, _ = await _announce_big_upload(port, f"Bearer {student}")
    assert status_line.startswith(b"HTTP/1.1 403"), status_line
    assert uploads_read == []


async def test_the_admitted_role_still_uploads() -> None:
    uploads_read.clear()
    admin = mint_token(SECRET, sub="a1", role=Role.CAMPUS_ADMIN, campus_id="c")
    async with serving() as port, httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as c:
        answer = await c.post(
            "/v1/files",
            files={"file": ("a.csv", b"a,b\n1,2\n")},
            headers={"Authorization": f"Bearer {admin}"},
        )
    assert answer.status_code == 200, answer.text
    assert uploads_read == [8]


async def test_a_flood_of_unauthenticated_requests_is_answered_429_with_retry_after() -> None:
    limiter = RateLimiter(5, 60)
    async with (
        serving(limiter) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client,
    ):
        answers = [await client.get("/v1/files") for _ in range(7)]
        probes = [await client.get("/healthz") for _ in range(10)]
    statuses = [a.status_code for a in answers]
    assert statuses[:5] == [401] * 5
    assert statuses[5:] == [429, 429]
    assert int(answers[-1].headers["Retry-After"]) >= 1
    assert answers[-1].json()["code"] == "rate_limited"
    assert {p.status_code for p in probes} == {200}  # operators' probes are never limited


@pytest.mark.parametrize("burst", [1, 3])
def test_the_limiter_allows_its_rate_and_says_how_long_to_wait(burst: int) -> None:
    now = [0.0]
    limiter = RateLimiter(2, 10, burst=burst, clock=lambda: now[0])
    assert [limiter.acquire("a") for _ in range(burst)] == [0.0] * burst
    wait = limiter.acquire("a")
    assert wait == pytest.approx(5.0)  # one request per 5 s once the burst is spent
    assert limiter.acquire("b") == 0.0  # keys are limited apart
    now[0] += wait
    assert limiter.acquire("a") == 0.0


async def test_a_route_before_a_guarded_one_is_not_refused_by_its_guard() -> None:
    """`/v1/things/count` (any signed-in role) comes before `/v1/things/{thing_id}` (the
    admin only), and the router sends a count there: the edge must not refuse a counselor's
    count with the later route's roles because its pattern also fits."""
    things = APIRouter(prefix="/v1")

    @things.get("/things/count")
    async def count(principal: CurrentPrincipal) -> dict[str, int]:
        return {"total": 0}

    @things.get("/things/{thing_id}")
    async def thing(
        thing_id: str,
        principal: Annotated[Principal, Depends(require_roles(Role.CAMPUS_ADMIN))],
    ) -> dict[str, str]:
        return {"thing_id": thing_id}

    (guard,) = role_guards([things])
    assert guard.refuses("GET", "/v1/things/t1", Role.RESIDENCE_COUNSELOR)
    assert not guard.refuses("GET", "/v1/things/count", Role.RESIDENCE_COUNSELOR)

    app, _ = small_service(things)
    counselor = mint_token(SECRET, sub="c1", role=Role.RESIDENCE_COUNSELOR, campus_id="c")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://edge") as client:
        headers = {"Authorization": f"Bearer {counselor}"}
        counted = await client.get("/v1/things/count", headers=headers)
        refused = await client.get("/v1/things/t1", headers=headers)
    assert counted.status_code == 200, counted.text
    assert refused.status_code == 403, refused.text


def test_a_router_inside_a_router_cannot_leave_its_routes_unguarded_at_the_edge() -> None:
    """FastAPI serves an included router's routes, but the including router lists it as one
    entry: the edge built no role guard for them, so a student's upload to a campus admin's
    route was read to disk before the route's dependency refused it. The kit refuses such a
    router at build time."""
    outer, inner = APIRouter(prefix="/v1"), APIRouter(prefix="/imports")

    @inner.post("/files")
    async def upload(
        principal: Annotated[Principal, Depends(require_roles(Role.CAMPUS_ADMIN))],
    ) -> None: ...

    outer.include_router(inner)
    with pytest.raises(ValueError, match="list it in the app's routers"):
        role_guards([outer])
