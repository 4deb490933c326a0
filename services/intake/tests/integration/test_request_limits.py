"""One stolen token against intake as it runs behind several replicas (docs/security/routes.md):
intake autoscales, and a token's reports, each naming any student of the campus, are limited
per person once across the replicas, not once per replica: its requests, and more tightly
its reports. A report refused for what it says is given back to the reporter's reports, never
to their requests."""

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


async def _one_intake(
    service_process: ServiceProcessFactory, kafka_bootstrap: str, limits: dict[str, str]
) -> ServiceProcess:
    group = f"intake-test-{uuid.uuid4().hex[:8]}"
    await start_groups_at_end(kafka_bootstrap, {group: CASES})
    env = {"INTAKE_CONSUMER_GROUP": group, "INTAKE_PUBLISH_TIMEOUT_SECONDS": "3", **limits}
    return await service_process("intake", env).start_async()


def _mistakes() -> list[dict[str, object]]:
    """What a reporter on a phone gets wrong: each refused 400 or 422 for what it says."""
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    return [
        {**REPORT, "student_no": "2024 0200 04"},  # not a student number
        {**REPORT, "signals": ["feeling_blue"]},  # not a signal
        {**REPORT, "note": "很" * 2001},  # a note too long
        {**REPORT, "observed_at": "yesterday"},  # not a time
        {**REPORT, "observed_at": tomorrow},  # refused by the use case, not the schema
    ]


async def test_reports_refused_for_what_they_say_leave_the_reporters_allowance_whole(
    service_process: ServiceProcessFactory, kafka_bootstrap: str, token
) -> None:
    """Three reports at once: a dorm leader who gets five reports wrong (and one body that is
    not JSON at all) still sends three good ones, and is limited on the fourth as before.
    On f2b7757 the mistakes used up the allowance and the first good report was refused."""
    intake = await _one_intake(
        service_process, kafka_bootstrap, {"INTAKE_REPORTS_PER_REPORTER_PER_HOUR": "9"}
    )
    leader = token(Role.DORM_LEADER, sub=f"D{uuid.uuid4().hex[:6]}")
    async with httpx.AsyncClient(base_url=intake.base_url, timeout=30) as client:
        refused = [await client.post("/v1/reports", json=m, headers=leader) for m in _mistakes()]
        garbled = await client.post(
            "/v1/reports",
            content=b'{"campus_id": "demo", "student_no": ',
            headers={**leader, "Content-Type": "application/json"},
        )
        good = [await client.post("/v1/reports", json=REPORT, headers=leader) for _ in "abc"]
        fourth = await client.post("/v1/reports", json=REPORT, headers=leader)
    assert [r.status_code for r in refused] == [422] * 5, [r.text for r in refused]
    assert refused[-1].json()["code"] == "observed_in_future"
    assert garbled.status_code == 400, garbled.text
    assert [g.status_code for g in good] == [202] * 3, [g.text for g in good]
    assert fourth.status_code == 429, fourth.text
    assert "上报过于频繁" in fourth.json()["detail"]


async def test_a_stolen_token_sending_refused_reports_flat_out_is_still_held_by_its_request_limit(
    service_process: ServiceProcessFactory, kafka_bootstrap: str, token
) -> None:
    """Refused reports are given back to the reports limit only: every one still counts
    against the person's requests, so a token hammering intake with invalid reports is
    held at the request limit, and then its good reports are held too."""
    limits = {
        "SHOUWANG_PER_PERSON_PER_MINUTE": "1",  # none comes back while the test runs
        "SHOUWANG_PER_PERSON_BURST": str(BURST),
        "INTAKE_REPORTS_PER_REPORTER_PER_HOUR": "1000",
    }
    intake = await _one_intake(service_process, kafka_bootstrap, limits)
    thief = token(Role.DORM_LEADER, sub=f"D{uuid.uuid4().hex[:6]}")
    invalid = {**REPORT, "signals": ["feeling_blue"]}
    async with httpx.AsyncClient(base_url=intake.base_url, timeout=30) as client:
        flood = [await client.post("/v1/reports", json=invalid, headers=thief) for _ in range(12)]
        good = await client.post("/v1/reports", json=REPORT, headers=thief)
        colleague = token(Role.DORM_LEADER, sub=f"D{uuid.uuid4().hex[:6]}")
        theirs = await client.post("/v1/reports", json=REPORT, headers=colleague)
    statuses = [answer.status_code for answer in flood]
    assert statuses == [422] * BURST + [429] * (12 - BURST), statuses
    for answer in flood[BURST:]:
        assert answer.json()["code"] == "rate_limited"
        assert "请求过于频繁" in answer.json()["detail"]
        assert int(answer.headers["Retry-After"]) > 0
    assert good.status_code == 429, good.text
    assert theirs.status_code == 202, theirs.text
