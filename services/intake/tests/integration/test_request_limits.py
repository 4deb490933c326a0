"""One stolen token against intake as it runs behind several replicas (docs/security/routes.md):
intake autoscales, and a token's reports, each naming any student of the campus, are limited
per person once across the replicas, not once per replica: its requests, and more tightly
its reports."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from shouwang_contracts.topics import CASES
from shouwang_contracts.vocabulary import Role
from shouwang_devstack.services import ServiceProcess, ServiceProcessFactory
from shouwang_devstack.topics import start_groups_at_end

pytestmark = pytest.mark.integration
BURST = 5
REPORT = {
    "campus_id": "demo",
    "student_no": "2024020004",
    "signals": ["academic_decline"],
    "observed_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
}


async def _two_replicas(
    service_process: ServiceProcessFactory, kafka_bootstrap: str, limits: dict[str, str]
) -> tuple[ServiceProcess, ServiceProcess]:
    """Two intake processes on one database and one consumer group: two replicas."""
    group = f"intake-test-{uuid.uuid4().hex[:8]}"
    await start_groups_at_end(kafka_bootstrap, {group: CASES})
    env = {"INTAKE_CONSUMER_GROUP": group, "INTAKE_PUBLISH_TIMEOUT_SECONDS": "3", **limits}
    first = await service_process("intake", env).start_async()
    database = first.env["INTAKE_DATABASE_URL"]
    second = await service_process("intake", {**env, "INTAKE_DATABASE_URL": database}).start_async()
    return first, second


async def _alternating_reports(
    replicas: tuple[ServiceProcess, ServiceProcess], token
) -> tuple[list[httpx.Response], httpx.Response]:
    """One token's reports alternating between the replicas, `2 × BURST + 4` of them; then
    a colleague's report."""
    thief = token(Role.DORM_LEADER, sub=f"D{uuid.uuid4().hex[:6]}")
    answers: list[httpx.Response] = []
    async with (
        httpx.AsyncClient(base_url=replicas[0].base_url, timeout=30) as one,
        httpx.AsyncClient(base_url=replicas[1].base_url, timeout=30) as other,
    ):
        for n in range(2 * BURST + 4):
            client = (one, other)[n % 2]
            answers.append(await client.post("/v1/reports", json=REPORT, headers=thief))
        colleague = token(Role.DORM_LEADER, sub=f"D{uuid.uuid4().hex[:6]}")
        theirs = await other.post("/v1/reports", json=REPORT, headers=colleague)
    return answers, theirs


def _served_once(answers: list[httpx.Response], theirs: httpx.Response, what: str) -> None:
    statuses = [a.status_code for a in answers]
    # Each replica claims a block of the person's allowance at a time (intake's
    # SHOUWANG_PERSON_LIMITS_BLOCK), so which replica serves which request varies; how many
    # are served does not.
    assert statuses.count(202) == BURST, statuses
    assert statuses.count(429) == BURST + 4, statuses
    for refused in answers:
        if refused.status_code == 429:
            assert refused.json()["code"] == "rate_limited"
            assert what in refused.json()["detail"]
            assert int(refused.headers["Retry-After"]) > 0
    # The limit is the person's: a colleague on the same replicas still reports.
    assert theirs.status_code == 202, theirs.text


async def test_a_stolen_token_is_not_given_twice_the_rate_by_two_intake_replicas(
    service_process: ServiceProcessFactory, kafka_bootstrap: str, token
) -> None:
    """The person's requests (any `/v1`): the burst is granted once, not once per replica.
    The per-reporter limit is left above what is sent here, so only this one refuses."""
    limits = {
        "SHOUWANG_PER_PERSON_PER_MINUTE": "1",  # none comes back while the test runs
        "SHOUWANG_PER_PERSON_BURST": str(BURST),
        "INTAKE_REPORTS_PER_REPORTER_PER_HOUR": "1000",
    }
    replicas = await _two_replicas(service_process, kafka_bootstrap, limits)
    answers, theirs = await _alternating_reports(replicas, token)
    _served_once(answers, theirs, "请求过于频繁")


async def test_a_stolen_token_is_not_given_twice_the_reports_by_two_intake_replicas(
    service_process: ServiceProcessFactory, kafka_bootstrap: str, token
) -> None:
    """The reporter's reports, the tighter limit (a third of the hourly figure at once):
    granted once across replicas, not once per replica."""
    limits = {"INTAKE_REPORTS_PER_REPORTER_PER_HOUR": str(3 * BURST)}
    replicas = await _two_replicas(service_process, kafka_bootstrap, limits)
    answers, theirs = await _alternating_reports(replicas, token)
    _served_once(answers, theirs, "上报过于频繁")
