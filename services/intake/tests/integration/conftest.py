"""One real intake process per test module, on the session's real Kafka and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from shouwang_contracts.auth import mint_token
from shouwang_contracts.vocabulary import Role
from shouwang_devstack._proc import free_port
from shouwang_devstack.services import ServiceProcess


@pytest.fixture(scope="module")
def intake_extra_env() -> dict[str, str]:
    """Settings a test module adds to its intake process (override it in the module)."""
    return {}


@pytest.fixture(scope="module")
def intake(
    kafka_bootstrap: str,
    service_database: object,
    devstack_env: dict[str, str],
    devstack_tmp: Path,
    intake_extra_env: dict[str, str],
    request: pytest.FixtureRequest,
) -> Iterator[ServiceProcess]:
    env = {
        **devstack_env,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "INTAKE_DATABASE_URL": service_database.sync("intake"),  # type: ignore[attr-defined]
        "INTAKE_PUBLISH_TIMEOUT_SECONDS": "3",
        **intake_extra_env,
    }
    name = request.module.__name__.rsplit(".", 1)[-1]
    proc = ServiceProcess(
        "intake",
        log_path=devstack_tmp / "services" / f"{name}-intake.log",
        env=env,
        port=free_port(),
        die_with_parent=True,
    )
    proc.start()
    yield proc
    proc.stop()


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
