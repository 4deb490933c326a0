"""With Kafka gone, intake says 503 and never promises a write Kafka did not acknowledge."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from shouwang_contracts.topics import REPORTS
from shouwang_contracts.vocabulary import Role
from shouwang_devstack.kafka import LocalKafka
from shouwang_devstack.services import ServiceProcess

from .kafka_reader import TopicReader


def _report() -> dict[str, object]:
    return {
        "campus_id": "demo",
        "student_no": "2024010003",
        "signals": ["social_withdrawal"],
        "observed_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
    }


@pytest.fixture
async def intake(
    service_process: Callable[..., ServiceProcess], local_kafka: LocalKafka
) -> ServiceProcess:
    """Unlike the module-wide intake of conftest.py, one on the broker the test stops (the
    session's broker is not stoppable when it came from the environment or Docker)."""
    env = {
        "INTAKE_PUBLISH_TIMEOUT_SECONDS": "3",
        # One reporter sends report after report here, as no real one would.
        "INTAKE_REPORTS_PER_REPORTER_PER_HOUR": "1000000",
        "SHOUWANG_PER_PERSON_PER_MINUTE": "0",
    }
    return await service_process("intake", env).start_async()


async def test_every_202_is_on_kafka_and_a_stopped_broker_means_503(
    client: httpx.AsyncClient,
    token,
    local_kafka: LocalKafka,
    intake: ServiceProcess,
) -> None:
    headers = token(Role.CLASS_WELLBEING_OFFICER, sub="2024010003")
    accepted: list[str] = []
    refused: list[httpx.Response] = []
    stop_sending = asyncio.Event()
    first_accepted = asyncio.Event()

    async def keep_reporting() -> None:
        while not stop_sending.is_set():
            key = f"k-{uuid.uuid4()}"
            response = await client.post(
                "/v1/reports", json=_report(), headers={**headers, "Idempotency-Key": key}
            )
            if response.status_code == 202:
                accepted.append(response.json()["id"])
                first_accepted.set()
            else:
                refused.append(response)
            await asyncio.sleep(0.02)

    async with TopicReader(local_kafka.bootstrap, REPORTS) as reader:
        senders = [asyncio.create_task(keep_reporting()) for _ in range(3)]
        async with asyncio.timeout(60):  # reports accepted while the broker runs, however slow
            await first_accepted.wait()
        accepted_before_stop = len(accepted)
        await local_kafka.stop_async()
        await asyncio.sleep(8.0)  # well past the publish timeout: requests must be refused now
        stop_sending.set()
        await asyncio.gather(*senders)

        # While the broker is down: 503 with Retry-After, as problem+json.
        down = await client.post("/v1/reports", json=_report(), headers=headers)
        assert down.status_code == 503
        assert down.headers["retry-after"].isdigit()
        assert down.json()["code"] == "kafka_unavailable"
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["kafka"] is False

        await local_kafka.start_async()
        records = await reader.read(len(accepted), within=60, settle=3.0)

    assert accepted_before_stop > 0
    assert refused, "no request was refused while the broker was down"
    assert {r.status_code for r in refused} <= {503}
    on_topic = {TopicReader.value(r)["id"] for r in records}
    missing = set(accepted) - on_topic
    assert not missing, f"{len(missing)} reports got 202 but are not on Kafka"

    # Back to normal once the broker is back.
    for _ in range(90):  # leaders move and the producer may be recreated first
        again = await client.post("/v1/reports", json=_report(), headers=headers)
        if again.status_code == 202:
            break
        await asyncio.sleep(1)
    assert again.status_code == 202

    # Receipts exist for exactly the 202s: a refused report's receipt (written beside the
    # publish when no key is sent) was removed, and keyed ones never wrote one.
    db = await asyncpg.connect(intake.env["INTAKE_DATABASE_URL"])
    try:
        stored = {str(r["report_id"]) for r in await db.fetch("SELECT report_id FROM receipts")}
    finally:
        await db.close()
    assert stored == {*accepted, again.json()["id"]}
