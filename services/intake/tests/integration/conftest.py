"""One real intake process per test module, on the session's real Kafka and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from shouwang_contracts.auth import mint_token
from shouwang_contracts.vocabulary import Role
from shouwang_devstack.pytest_plugin import ServiceProcessFactory
from shouwang_devstack.services import ServiceProcess


@pytest.fixture(scope="module")
def intake_extra_env() -> dict[str, str]:
    """Settings a test module adds to its intake process (override it in the module)."""
    return {}


@pytest.fixture(scope="module")
def intake(
    module_service_process: ServiceProcessFactory, intake_extra_env: dict[str, str]
) -> ServiceProcess:
    proc = module_service_process(
        "intake", {"INTAKE_PUBLISH_TIMEOUT_SECONDS": "3", **intake_extra_env}
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
