"""One stolen token against stats' replicas (docs/security/routes.md): a person's requests are
limited once across the replicas, not once per replica."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import pytest
from shouwang_contracts.auth import mint_token
from shouwang_contracts.vocabulary import Role
from shouwang_devstack.services import ServiceProcess
from shouwang_stats.adapters import generations
from shouwang_stats.service_layer.rebuild import PROJECTION_VERSION

pytestmark = pytest.mark.integration
BURST = 5


async def test_a_stolen_token_is_not_given_twice_the_rate_by_two_stats_replicas(
    service_database: Any,
    service_process: Callable[..., ServiceProcess],
    devstack_env: dict[str, str],
) -> None:
    """Two stats processes on one database, one token's reads alternating between them: the
    person's burst is granted once (the rate, one a minute: none comes back while the test
    runs)."""
    dsn = await service_database("stats")
    conn = await asyncpg.connect(dsn)
    try:  # an empty projection of today's rules: the replicas serve it without a rebuild
        await generations.ensure_active(conn, PROJECTION_VERSION)
    finally:
        await conn.close()
    limits = {"SHOUWANG_PER_PERSON_PER_MINUTE": "1", "SHOUWANG_PER_PERSON_BURST": str(BURST)}
    replicas = [service_process("stats", {"STATS_DATABASE_URL": dsn, **limits}) for _ in range(2)]
    await asyncio.gather(*(r.start_async() for r in replicas))
    token = mint_token(
        devstack_env["SHOUWANG_JWT_SECRET"],
        sub="staff-thief",
        role=Role.COUNSELING_CENTER,
        campus_id="campus-limits",
    )
    thief = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=30) as client:
        answers = [
            await client.get(
                f"{replicas[n % 2].base_url}/v1/outcomes/annual",
                params={"year": 2025},
                headers=thief,
            )
            for n in range(2 * BURST + 4)
        ]
    statuses = [a.status_code for a in answers]
    assert statuses == [200] * BURST + [429] * (BURST + 4), statuses
    assert {a.json()["code"] for a in answers[BURST:]} == {"rate_limited"}
