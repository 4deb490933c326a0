"""One stolen token against intake as it runs behind several replicas (docs/security/routes.md):
intake autoscales, and a token's reports, each naming any student of the campus, are limited
per person once across the replicas, not once per replica."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from shouwang_contracts.topics import CASES
from shouwang_contracts.vocabulary import Role
from shouwang_devstack.services import ServiceProcessFactory
from shouwang_devstack.topics import start_groups_at_end

pytestmark = pytest.mark.integration
BURST = 5
REPORT = {
    "campus_id": "demo",
    "student_no": "2024020004",
    "signals": ["academic_decline"],
    "observed_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
}


async def test_a_stolen_token_is_not_given_twice_the_rate_by_two_intake_replicas(
    service_process: ServiceProcessFactory, kafka_bootstrap: str, token
) -> None:
    """Two intake processes on one database (two replicas), and one token's reports
    alternating between them: the burst is granted once, not once per replica. The
    per-reporter limit (20 at once per process) is left above what is sent here, so only
    the per-person limit can refuse."""
    group = f"intake-test-{uuid.uuid4().hex[:8]}"
    await start_groups_at_end(kafka_bootstrap, {group: CASES})
    env = {
        "INTAKE_CONSUMER_GROUP": group,
        "INTAKE_PUBLISH_TIMEOUT_SECONDS": "3",
        "SHOUWANG_PER_PERSON_PER_MINUTE": "1",  # none comes back while the test runs
        "SHOUWANG_PER_PERSON_BURST": str(BURST),
    }
    first = await service_process("intake", env).start_async()
    second = service_process(
        "intake", {**env, "INTAKE_DATABASE_URL": first.env["INTAKE_DATABASE_URL"]}
    )
    await second.start_async()
    thief = token(Role.DORM_LEADER, sub=f"D{uuid.uuid4().hex[:6]}")
    answers: list[httpx.Response] = []
    async with (
        httpx.AsyncClient(base_url=first.base_url, timeout=30) as one,
        httpx.AsyncClient(base_url=second.base_url, timeout=30) as other,
    ):
        for n in range(2 * BURST + 4):
            answers.append(
                await (one, other)[n % 2].post("/v1/reports", json=REPORT, headers=thief)
            )
        colleague = token(Role.DORM_LEADER, sub=f"D{uuid.uuid4().hex[:6]}")
        theirs = await other.post("/v1/reports", json=REPORT, headers=colleague)
    statuses = [a.status_code for a in answers]
    # Each replica claims a block of the person's allowance at a time (intake's
    # SHOUWANG_PERSON_LIMITS_BLOCK), so which replica serves which request varies; how many
    # are served does not.
    assert statuses.count(202) == BURST, statuses
    assert statuses.count(429) == BURST + 4, statuses
    for refused in answers:
        if refused.status_code == 429:
            assert refused.json()["code"] == "rate_limited"
            assert int(refused.headers["Retry-After"]) > 0
    # The limit is the person's: a colleague on the same replicas still reports.
    assert theirs.status_code == 202, theirs.text
