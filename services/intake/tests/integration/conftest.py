"""One real intake process per test module, on the session's real Kafka and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from shouwang_contracts.auth import mint_token
from shouwang_contracts.topics import CASES
from shouwang_contracts.vocabulary import Role
from shouwang_devstack.pytest_plugin import ServiceProcessFactory
from shouwang_devstack.services import ServiceProcess
from shouwang_devstack.topics import start_groups_at_end


@pytest.fixture(scope="module")
def intake_extra_env() -> dict[str, str]:
    """Settings a test module adds to its intake process (override it in the module)."""
    return {}


@pytest.fixture(scope="module")
def intake(
    module_service_process: ServiceProcessFactory,
    intake_extra_env: dict[str, str],
    kafka_bootstrap: str,
) -> ServiceProcess:
    """The module's intake. Its receipt consumer has a group of its own, started at the end of
    the cases topic: it neither works through every case event earlier modules published nor
    shares partitions with another intake on the session's broker."""
    group = f"intake-test-{uuid.uuid4().hex[:8]}"
    with ThreadPoolExecutor(max_workers=1) as pool:  # safe whether or not a loop runs here
        pool.submit(asyncio.run, start_groups_at_end(kafka_bootstrap, {group: CASES})).result()
    proc = module_service_process(
        "intake",
        {
            "INTAKE_PUBLISH_TIMEOUT_SECONDS": "3",
            "INTAKE_CONSUMER_GROUP": group,
            **intake_extra_env,
        },
    )
    proc.start()  # stopped with the module by `module_service_process`
    return proc


@pytest.fixture(scope="module")
def token(devstack_env: dict[str, str]):  # type: ignore[no-untyped-def]
    """`token(role, sub="…", campus="demo", scope=[…])` → a bearer header for the session's secret."""

    def make(
        role: Role, sub: str = "u1", campus: str = "demo", scope: list[str] | None = None
    ) -> dict[str, str]:
        jwt = mint_token(
            devstack_env["SHOUWANG_JWT_SECRET"], sub=sub, role=role, campus_id=campus, scope=scope
        )
        return {"Authorization": f"Bearer {jwt}"}

    return make


@pytest.fixture
async def client(intake: ServiceProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=intake.base_url, timeout=30) as http:
        yield http
