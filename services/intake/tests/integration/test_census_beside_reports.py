"""A census upload in progress does not hold up a tier report (census traffic travels apart).

Ordering and state only: how fast the report goes is the benchmarks' business.
"""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta

import httpx
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events import ScreeningSubmitted
from shouwang_contracts.topics import CENSUS, REPORTS
from shouwang_contracts.vocabulary import Role

from .census_builders import census_csv
from .kafka_reader import TopicReader

ROWS = 20_000


async def test_a_report_is_accepted_and_on_its_topic_while_a_census_is_still_being_read(
    client: httpx.AsyncClient, token, kafka_bootstrap: str
) -> None:
    screener = token(Role.COUNSELING_CENTER, sub="T3101")
    data = census_csv(ROWS, {})
    async with (
        TopicReader(kafka_bootstrap, CENSUS) as census,
        TopicReader(kafka_bootstrap, REPORTS) as reports,
    ):
        upload = asyncio.create_task(
            client.post(
                "/v1/screenings/bulk",
                files={"file": ("census.csv", io.BytesIO(data), "text/csv")},
                headers=screener,
                timeout=300,
            )
        )
        # Gate on what can be seen: the census's first rows are on its topic, its batch is
        # still being read.
        first = await census.read(1, within=120)
        assert first, "no census row reached the topic"
        batch_id = Envelope[ScreeningSubmitted].model_validate_json(first[0].value).data.batch_id
        batch_url = f"/v1/screenings/bulk/{batch_id}"
        assert (await client.get(batch_url, headers=screener)).json()["status"] == "processing"

        report = await client.post(
            "/v1/reports",
            json={
                "campus_id": "demo",
                "student_no": "2024020001",
                "signals": ["suicide_plan"],
                "observed_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
            },
            headers=token(Role.DORM_LEADER, sub="2024020009"),
        )
        assert report.status_code == 202, report.text
        on_topic = await reports.read(1, within=60)
        assert report.json()["id"] in {TopicReader.value(r)["id"] for r in on_topic}

        # Only now ask about the census: it must not have finished in the meantime.
        assert not upload.done()
        assert (await client.get(batch_url, headers=screener)).json()["status"] == "processing"
        uploaded = await upload

    assert uploaded.status_code == 202, uploaded.text
    assert uploaded.json()["status"] == "completed"
    assert uploaded.json()["rows_accepted"] == ROWS
