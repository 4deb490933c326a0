"""Notify against a real PostgreSQL, with real local SMTP and HTTP receivers.

The helpers live in modules named for notify (`notify_receivers`, `notify_delivery`,
`notify_kafka`) on sys.path, so they never collide with another service's test helpers.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from shouwang_contracts.crypto import NoteCipher, generate_key
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_devstack._proc import free_port
from shouwang_notify.container import Notify

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from notify_delivery import DINGTALK_SECRET
from notify_handlers import handlers_notify
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
