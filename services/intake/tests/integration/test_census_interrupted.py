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

# Intake's upload beats every HEARTBEAT s; a 'processing' batch that has not beaten for STALE
# s is taken for interrupted. STALE - HEARTBEAT = 3.3 s is how long intake's event loop (or a
# heartbeat's round trip to PostgreSQL) may be starved before a live upload looks dead: 2.5
# times the 1.3 s a loaded two-core machine starved it when STALE was 1.5 s and the second
# test failed. A longer STALE makes the second test's upload longer still (below).
HEARTBEAT = "0.2"
STALE = "3.5"
# The uploads' pace is set by Kafka's linger, not by the CPU: with at most IN_FLIGHT rows
# awaiting acknowledgement, each IN_FLIGHT rows wait for the census producer's 20 ms linger,
# so n rows take at least n / IN_FLIGHT * 20 ms. The second test's ROWS take at least 8 s,
# over twice the STALE + 0.3 = 3.8 s it waits for before sending the file again; the first
# test's CUT_ROWS take at least 4 s, to be cut off after their first beat (0.2 s), and to be
# sent again whole. (With 20,000 rows and the default in-flight window, a fast machine
# finished in under 1.8 s.)
ROWS = 2_000
CUT_ROWS = 1_000
IN_FLIGHT = "5"


@pytest.fixture(scope="module")
def intake_extra_env() -> dict[str, str]:
    return {
        "INTAKE_CENSUS_HEARTBEAT_SECONDS": HEARTBEAT,
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
    """Poll the newest batch until it is 'processing' and `until` holds; fail after 60 s (a
    bound for a loaded machine, not a timing)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while loop.time() < deadline:
        row = await db.fetchrow(
            "SELECT batch_id, status, created_at, heartbeat_at,"
            " extract(epoch FROM now() - created_at) AS age FROM census_batches"
            " ORDER BY created_at DESC LIMIT 1"
        )
        if row and row["status"] == "processing" and until(row):
            return row
        await asyncio.sleep(0.02)
    pytest.fail(why)


async def _once_not_processing(
    client: httpx.AsyncClient, path: str, headers: dict[str, str]
) -> dict[str, Any]:
    """The batch as intake answers it once it no longer reads 'processing' (a cut-off batch
    does after STALE s without a beat); fail after 60 s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    batch: dict[str, Any] = {}
    while loop.time() < deadline:
        batch = (await client.get(path, headers=headers)).json()
        if batch["status"] != "processing":
            return batch
        await asyncio.sleep(0.1)
    pytest.fail(f"the cut-off batch still read 'processing' 60 s after intake restarted: {batch}")


async def test_a_census_cut_off_by_a_crash_fails_and_can_be_sent_again(
    intake: ServiceProcess, token
) -> None:
    data = census_csv(CUT_ROWS, {})
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
            zh = await _once_not_processing(client, f"/v1/screenings/bulk/{batch_id}", headers)
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
            CUT_ROWS,
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
