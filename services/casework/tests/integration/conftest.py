"""Casework as it runs, for the integration tests: the app from its real factory (`create_app`)
on a fresh, migrated database of each test module and the session's Kafka.

- `casework_dsn`: the module's database (casework's role and schema);
- `pool`: a pool on it, for a test to seed and inspect rows directly;
- `casework_settings`: the settings the app starts with (HTTP only: no consumers, no relay;
  a module overrides the fixture to change them);
- `client`: an httpx client of that app, its lifespan started (bootstrap) and ended around
  the module.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from pydantic import SecretStr
from shouwang_casework.config import CaseworkSettings
from shouwang_casework.main import create_app

sys.path.insert(0, str(Path(__file__).parent))  # the shared helpers next to this file
from cases_support import NOTE_KEYS, PLACEMENT_KEY, PSEUDONYM_KEY, SECRET


@pytest.fixture(scope="module")
async def casework_dsn(service_database: Any) -> str:
    dsn: str = await service_database("casework")
    return dsn


@pytest.fixture(scope="module")
async def pool(casework_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(casework_dsn, min_size=1, max_size=4)
    yield pool
    await pool.close()


@pytest.fixture(scope="module")
def casework_settings(casework_dsn: str, kafka_bootstrap: str) -> CaseworkSettings:
    shared = {  # read by their names in the environment, so given by those names
        "SHOUWANG_ENV": "test",
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "SHOUWANG_JWT_SECRET": SECRET,
        "SHOUWANG_PSEUDONYM_KEY": PSEUDONYM_KEY,
        "SHOUWANG_PLACEMENT_KEY": PLACEMENT_KEY,
        "SHOUWANG_NOTE_KEYS": NOTE_KEYS,
        # A module's tests are one app and a few people calling it in loops at machine
        # speed, what the per-person limits refuse: off here, on in test_request_limits.py.
        "SHOUWANG_PER_PERSON_PER_MINUTE": "0",
        "SHOUWANG_AUDITED_READS_PER_HOUR": "0",
    }
    return CaseworkSettings(
        **shared,
        database_url=SecretStr(casework_dsn),
        consumers_enabled=False,
        relay_enabled=False,
        db_pool_min=1,
        db_pool_max=4,
    )


@pytest.fixture(scope="module")
async def client(casework_settings: CaseworkSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(casework_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://casework") as client:
            yield client
