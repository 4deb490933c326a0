"""Notify against a real PostgreSQL, with real local SMTP and HTTP receivers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from shouwang_contracts.crypto import NoteCipher, generate_key
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_devstack._proc import free_port
from shouwang_notify.adapters.db import campus_transaction
from shouwang_notify.service_layer.contacts import import_contacts, parse_upload

from ..receivers import HttpSink, SmtpSink

pytestmark = pytest.mark.integration

SAMPLES = Path(__file__).resolve().parents[4] / "samples"
CAMPUS = "demo"
DINGTALK_SECRET = "SEC-local-test-secret"


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


async def load_samples(
    pool: asyncpg.Pool, cipher: NoteCipher, pseudonyms: Pseudonymizer, *, staff: bytes | None = None
) -> None:
    """Import the sample staff and family contacts into campus `demo`."""
    for kind, data in (
        ("staff", staff or (SAMPLES / "contacts_staff.csv").read_bytes()),
        ("family", (SAMPLES / "contacts_family.csv").read_bytes()),
    ):
        parsed = await parse_upload(kind, data)
        async with campus_transaction(pool, CAMPUS) as conn:
            result = await import_contacts(
                conn,
                cipher,
                pseudonyms,
                campus_id=CAMPUS,
                kind=kind,
                data=data,
                parsed=parsed,
                imported_by="per_admin",
            )
        assert result.errors == [], result.errors
