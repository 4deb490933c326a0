"""A census upload cut off by a dying intake: its batch beats while alive, reads `failed`
(interrupted) once the beat stops, and the same file can be sent again at once."""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import pytest
from shouwang_contracts.vocabulary import Role
from shouwang_devstack.services import ServiceProcess

from .census_builders import census_csv

# The uploads must outlast the staleness limit on any machine, so their pace is set by
# Kafka's linger, not by the CPU: with at most IN_FLIGHT rows awaiting acknowledgement, each
# IN_FLIGHT rows wait for the census producer's 20 ms linger, and ROWS take at least
# ROWS / IN_FLIGHT * 20 ms = 4 s, over twice the 1.8 s the second test needs. (With 20,000
# rows and the default in-flight window, a fast machine finished in under 1.8 s.)
ROWS = 2_000
IN_FLIGHT = "10"
STALE = "1.5"


@pytest.fixture(scope="module")
def intake_extra_env() -> dict[str, str]:
    return {
        "INTAKE_CENSUS_HEARTBEAT_SECONDS": "0.2",
        "INTAKE_CENSUS_STALE_SECONDS": STALE,
        "INTAKE_CENSUS_IN_FLIGHT": IN_FLIGHT,
    }


def _upload(client: httpx.AsyncClient, data: bytes, headers: dict[str, str]) -> Any:
    return client.post(
        "/v1/screenings/bulk",
        files={"file": ("census.csv", io.BytesIO(data), "text/csv")},
        headers=headers,
    )


async def _processing_batch(
    db: asyncpg.Connection, until: Callable[[asyncpg.Record], bool], why: str
) -> asyncpg.Record:
    """Poll the newest batch until it is 'processing' and `until` holds; fail after 12 s."""
    for _ in range(600):
        row = await db.fetchrow(
            "SELECT batch_id, status, created_at, heartbeat_at,"
            " extract(epoch FROM now() - created_at) AS age FROM census_batches"
            " ORDER BY created_at DESC LIMIT 1"
        )
        if row and row["status"] == "processing" and until(row):
            return row
        await asyncio.sleep(0.02)
    pytest.fail(why)


async def test_a_census_cut_off_by_a_crash_fails_and_can_be_sent_again(
    intake: ServiceProcess, token
) -> None:
    data = census_csv(ROWS, {})
    headers = token(Role.COUNSELING_CENTER, sub="T4001")
    db = await asyncpg.connect(intake.env["INTAKE_DATABASE_URL"])
    try:
        async with httpx.AsyncClient(base_url=intake.base_url, timeout=120) as client:
            upload = asyncio.create_task(_upload(client, data, headers))
            # Kill -9 once the upload is under way and has beaten at least once.
            row = await _processing_batch(
                db,
                lambda r: r["heartbeat_at"] > r["created_at"],
                "the census batch never showed a heartbeat while processing",
            )
            intake.kill()
            with contextlib.suppress(httpx.HTTPError):
                await upload
        batch_id = str(row["batch_id"])

        await intake.start_async()
        async with httpx.AsyncClient(base_url=intake.base_url, timeout=300) as client:
            await asyncio.sleep(float(STALE) + 0.5)
            zh = (await client.get(f"/v1/screenings/bulk/{batch_id}", headers=headers)).json()
            en = (
                await client.get(
                    f"/v1/screenings/bulk/{batch_id}", headers={**headers, "Accept-Language": "en"}
                )
            ).json()
            assert zh["status"] == "failed", zh
            assert "中断" in zh["failure"]
            assert "interrupted" in en["failure"]
            assert zh["completed_at"] is not None

            again = await _upload(client, data, headers)
        assert again.status_code == 202, again.text  # started again, not "already known"
        body = again.json()
        assert body["batch_id"] == batch_id
        assert (body["status"], body["rows_accepted"], body["rows_rejected"]) == (
            "completed",
            ROWS,
            0,
        )
        assert body["failure"] is None
    finally:
        await db.close()


async def test_a_batch_still_beating_is_not_taken_for_interrupted(
    intake: ServiceProcess, token
) -> None:
    data = census_csv(ROWS, {}).replace(b"\n", b"\r\n")  # another file: another batch
    headers = token(Role.COUNSELING_CENTER, sub="T4002")
    db = await asyncpg.connect(intake.env["INTAKE_DATABASE_URL"])
    try:
        async with httpx.AsyncClient(base_url=intake.base_url, timeout=300) as client:
            first = asyncio.create_task(_upload(client, data, headers))
            # Send the same file again once the first upload has run longer than the
            # staleness limit: only its heartbeat says it is alive.
            await _processing_batch(
                db,
                lambda r: r["age"] > float(STALE) + 0.3,
                "the upload ended before it was older than the staleness limit",
            )
            second = await _upload(client, data, headers)
            during = second.json()
            done = await first
    finally:
        await db.close()
    assert done.status_code == 202, done.text
    assert done.json()["status"] == "completed"
    # The batch in progress, answered as known: not restarted, not failed.
    assert second.status_code == 200, second.text
    assert during["batch_id"] == done.json()["batch_id"]
    assert during["status"] == "processing"
