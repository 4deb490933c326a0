"""An event a request commits leaves for Kafka at once: the outbox's insert trigger notifies
the relay at commit (LISTEN/NOTIFY), so nothing waits for a consumer's batch or the poll.

The app runs no consumers at all and its relay polls only every minute: the acknowledgement
reaching the topic well within that minute is the notification's doing.
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from shouwang_casework.adapters.db import campus_transaction
from shouwang_casework.config import CaseworkSettings
from shouwang_contracts.events.casework import AlertAcknowledged
from shouwang_contracts.topics import CASES
from shouwang_contracts.vocabulary import Role, Severity

sys.path.insert(0, str(Path(__file__).parent))  # the shared helpers next to this file
from cases_support import (
    COUNSELOR_8,
    PSEUDONYMS,
    SECRET,
    STUDENT_NO,
    TopicReader,
    deliver,
    import_roster,
    token,
    wait_for,
    warning,
)

pytestmark = pytest.mark.integration

POLL_SECONDS = 60.0
WELL_BEFORE_THE_POLL = 20.0


@pytest.fixture(scope="module")
def casework_settings(casework_settings: CaseworkSettings) -> CaseworkSettings:
    return casework_settings.model_copy(
        update={"relay_enabled": True, "relay_idle_seconds": POLL_SECONDS}
    )


def acknowledged(alert_id: str) -> Any:
    def done(records: list[Any]) -> bool:
        return any(
            dict(r.headers).get("ce_type") == AlertAcknowledged.EVENT_TYPE.encode()
            and json.loads(r.value)["data"]["alert_id"] == alert_id
            for r in records
        )

    return done


async def test_an_acknowledgement_over_http_reaches_kafka_without_waiting_for_the_poll(
    client: httpx.AsyncClient, pool: asyncpg.Pool, kafka_bootstrap: str
) -> None:
    campus = f"campus-{uuid.uuid4().hex[:8]}"
    await import_roster(client, campus)
    student = PSEUDONYMS.student_ref(campus, STUDENT_NO)
    first = warning(campus, student, Severity.MODERATE, Role.RESIDENCE_COUNSELOR)
    counselor = token(SECRET, campus, COUNSELOR_8, Role.RESIDENCE_COUNSELOR)
    async with TopicReader(kafka_bootstrap, CASES) as cases:
        # Committed by the test's own connection, as another replica's consumer would.
        await deliver(pool, campus, first)
        alert_id = first.alert.data.alert_id
        response = await client.post(f"/v1/alerts/{alert_id}/acknowledgement", headers=counselor)
        assert response.status_code == 200, response.text
        records = await cases.read_until(acknowledged(alert_id), within=WELL_BEFORE_THE_POLL)
    assert acknowledged(alert_id)(records)

    async def drained() -> bool:  # and marked published: nothing waits for the poll
        async with campus_transaction(pool, campus) as conn:
            waiting = await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        return waiting == 0

    assert await wait_for(drained, within=WELL_BEFORE_THE_POLL)
