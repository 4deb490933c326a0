"""Notify against a real PostgreSQL, with real local SMTP and HTTP receivers.

The helpers live in modules named for notify (`notify_receivers`, `notify_delivery`,
`notify_kafka`, `notify_processes`) on sys.path, so they never collide with another service's
test helpers. `campus` and `notify_process` serve the tests of notify as a real process.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from prometheus_client import CollectorRegistry
from shouwang_contracts.auth import TokenVerifier
from shouwang_contracts.crypto import NoteCipher, generate_key
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_devstack._proc import free_port
from shouwang_devstack.fresh_groups import start_fresh_groups
from shouwang_devstack.services import ServiceProcess
from shouwang_notify.config import NotifySettings
from shouwang_notify.container import Notify
from shouwang_notify.entrypoints.http import router
from shouwang_notify.entrypoints.http_contact_reads import router as contact_reads_router
from shouwang_notify.entrypoints.http_imports import router as imports_router
from shouwang_notify.entrypoints.http_settings import router as settings_router
from shouwang_notify.metrics import HTTP
from shouwang_servicekit.app import service_app

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from notify_api import API_SECRET
from notify_bursts import World, burst_world
from notify_delivery import DINGTALK_SECRET
from notify_handlers import handlers_notify
from notify_processes import Campus
from notify_receivers import HttpSink, SmtpSink

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def cipher() -> NoteCipher:
    return NoteCipher.from_config(f"test:{generate_key()}")


@pytest.fixture(scope="session")
def pseudonyms() -> Pseudonymizer:
    return Pseudonymizer(b"notify-test-pseudonym-key-0123456789abcdef")


@pytest.fixture
async def notify_pool(service_database: Any) -> AsyncIterator[asyncpg.Pool]:
    dsn = await service_database("notify")
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=8)
    assert pool is not None
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink(free_port()).start()
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture
def http_sink() -> Iterator[HttpSink]:
    sink = HttpSink(dingtalk_secret=DINGTALK_SECRET).start()
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client


@pytest.fixture
def notify(
    notify_pool: asyncpg.Pool,
    cipher: NoteCipher,
    pseudonyms: Pseudonymizer,
    smtp_sink: SmtpSink,
    http_sink: HttpSink,
    http_client: httpx.AsyncClient,
) -> Notify:
    """Notify as its consumers' handlers see it (no broker, no background workers)."""
    return handlers_notify(notify_pool, cipher, pseudonyms, smtp_sink, http_sink, http_client)


@pytest.fixture
def campus(devstack_env: dict[str, str]) -> Campus:
    return Campus(devstack_env)


@pytest.fixture
def notify_process(
    service_process: Callable[..., ServiceProcess],
    kafka_bootstrap: str,
    smtp_sink: SmtpSink,
    http_sink: HttpSink,
) -> Callable[..., ServiceProcess]:
    """`notify_process(**env)`: notify on the test's receivers, on groups of the test's own at
    the topics' end, the directory's too (each test publishes its campus's directory); every
    process it builds shares those groups, as a restart does."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        fresh = start_fresh_groups(kafka_bootstrap, ("notify",), own_directory=True)
        groups = pool.submit(asyncio.run, fresh).result()["notify"]

    def build(**env: str) -> ServiceProcess:
        merged = {
            **groups,
            "NOTIFY_SMTP_HOST": "127.0.0.1",
            "NOTIFY_SMTP_PORT": str(smtp_sink.port),
            "NOTIFY_SMTP_SECURITY": "insecure",
            "NOTIFY_SMS_URL": f"{http_sink.url}/sms",
            "NOTIFY_WECOM_ROBOT_KEY": "test-key",
            "NOTIFY_WECOM_API_BASE": http_sink.url,
            "NOTIFY_DINGTALK_ROBOT_TOKEN": "test-token",
            "NOTIFY_DINGTALK_ROBOT_SECRET": "SEC-local-test-secret",
            "NOTIFY_DINGTALK_API_BASE": http_sink.url,
            "NOTIFY_RATE_WECOM": "100",
            "NOTIFY_RATE_DINGTALK": "100",
            "NOTIFY_RETRY_BASE_SECONDS": "0.05",
            "NOTIFY_RETRY_CAP_SECONDS": "0.2",
            "NOTIFY_DISPATCH_POLL_SECONDS": "0.05",
            "NOTIFY_PUBLIC_BASE_URL": "https://shouwang.example.edu",
            "NOTIFY_APP_BASE_URL": "https://app.example.edu",
            **env,
        }
        return service_process("notify", merged)

    return build


@pytest.fixture
async def notify_api(notify: Notify) -> AsyncIterator[httpx.AsyncClient]:
    """Notify's API in this process on the test's database (no broker, no workers): tokens
    signed with `notify_api.API_SECRET` (`notify_api.api_bearer`), pseudonyms of the `pseudonyms` fixture."""
    settings = NotifySettings()
    notify.settings = settings

    async def bootstrap() -> Notify:
        return notify

    app = service_app(
        title="notify (test)",
        description="",
        bootstrap=bootstrap,
        token_verifier=TokenVerifier(secret=API_SECRET),
        routers=[router, imports_router, settings_router, contact_reads_router],
        registry=CollectorRegistry(),
        http_metrics=HTTP,
        unauthenticated_limiter=None,
        person_limits=None,
        body_limit=64 * 1024,
        body_limit_overrides={"/v1/imports": settings.max_upload_bytes + 64 * 1024},
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://notify") as client:
            yield client


@pytest.fixture
async def world(
    notify_pool: asyncpg.Pool,
    cipher: NoteCipher,
    pseudonyms: Pseudonymizer,
    smtp_sink: SmtpSink,
    http_sink: HttpSink,
    http_client: httpx.AsyncClient,
) -> World:
    """The alert-burst tests' world (`notify_bursts.py`): the database, the receivers and a
    dispatcher sending to them."""
    return burst_world(notify_pool, cipher, pseudonyms, smtp_sink, http_sink, http_client)
