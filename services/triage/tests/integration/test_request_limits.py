"""One stolen token against triage's replicas (docs/security/routes.md): every read of a
student's grade writes a `grade_reads` row, so the reads are limited per person, once across
the replicas, not once per replica."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest
from shouwang_contracts.vocabulary import Role

from .conftest import TriageFactory
from .helpers import unique

pytestmark = pytest.mark.integration
BURST = 5


async def test_a_stolen_token_is_not_given_twice_the_rate_of_grade_reads_by_two_triage_replicas(
    triage_process: TriageFactory,
    service_database: object,
    bearer: Callable[..., dict[str, str]],
) -> None:
    """Two triage processes on one database, one token's grade reads alternating between
    them: the audited reads' burst is granted once (the rate, one an hour: none comes back
    while the test runs)."""
    database = await service_database("triage")  # type: ignore[operator]
    group = unique("triage-limits")
    replicas = [triage_process(database, group=group) for _ in range(2)]
    for replica in replicas:
        replica.env.update(
            {"SHOUWANG_AUDITED_READS_PER_HOUR": "1", "SHOUWANG_AUDITED_READS_BURST": str(BURST)}
        )
    await asyncio.gather(*(r.start_async() for r in replicas))
    thief = bearer(Role.COUNSELING_CENTER)
    student = unique("s")  # nobody graded: each read answers 404, and is audited all the same
    async with httpx.AsyncClient(timeout=30) as client:
        answers = [
            await client.get(
                f"{replicas[n % 2].base_url}/v1/students/{student}/grade", headers=thief
            )
            for n in range(2 * BURST + 4)
        ]
    statuses = [a.status_code for a in answers]
    assert statuses == [404] * BURST + [429] * (BURST + 4), statuses
    assert {a.json()["code"] for a in answers[BURST:]} == {"rate_limited"}
