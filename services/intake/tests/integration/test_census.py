"""A start-of-term census file of 20,000 rows: streamed, published, bad rows named by number."""

from __future__ import annotations

import io
import random
from pathlib import Path

import httpx
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events import ScreeningSubmitted
from shouwang_contracts.topics import CENSUS
from shouwang_contracts.vocabulary import Role

from .kafka_reader import TopicReader

SAMPLES = Path(__file__).resolve().parents[4] / ".." / "shared" / "samples"
ROWS = 20_000
BAD_ROWS = {101: "out_of_range", 5_002: "missing", 12_345: "item_count", 19_999: "invalid"}


def _census_csv() -> bytes:
    """20,000 PHQ-9 rows shaped like the sample export, with four broken on purpose."""
    rng = random.Random(7)
    lines = [(SAMPLES / "census_phq9.csv").read_text(encoding="utf-8").splitlines()[0]]
    for row in range(2, ROWS + 2):
        number = f"2025{row:06d}"
        items = [str(rng.randint(0, 3)) for _ in range(9)]
        when = "2026-09-10 09:30"
        code = BAD_ROWS.get(row)
        if code == "out_of_range":
            items[3] = "7"
        elif code == "missing":
            number = ""
        elif code == "item_count":
            items = items[:5]
        elif code == "invalid":
            when = "九月十日"
        lines.append(",".join([number, f"学生{row}", when, "PHQ-9", *items]))
    return ("\n".join(lines) + "\n").encode("utf-8")


async def test_a_20000_row_census_is_accepted_with_its_bad_rows_reported(
    client: httpx.AsyncClient, token, kafka_bootstrap: str
) -> None:
    headers = token(Role.COUNSELING_CENTER, sub="T3001")
    data = _census_csv()
    async with TopicReader(kafka_bootstrap, CENSUS) as reader:
        response = await client.post(
            "/v1/screenings/bulk",
            files={"file": ("census.csv", io.BytesIO(data), "text/csv")},
            headers=headers,
            timeout=300,
        )
        assert response.status_code == 202, response.text
        batch = response.json()
        records = await reader.read(ROWS - len(BAD_ROWS), within=120)

    assert batch["status"] == "completed"
    assert batch["rows_total"] == ROWS
    assert batch["rows_accepted"] == ROWS - len(BAD_ROWS)
    assert batch["rows_rejected"] == len(BAD_ROWS)
    assert {(e["row"], e["code"]) for e in batch["errors"]} >= set(BAD_ROWS.items())
    assert response.headers["location"] == f"/v1/screenings/bulk/{batch['batch_id']}"

    assert len(records) == ROWS - len(BAD_ROWS)
    sample = Envelope[ScreeningSubmitted].model_validate_json(records[0].value)
    assert sample.data.batch_id == batch["batch_id"]
    assert b"\xe5\xad\xa6\xe7\x94\x9f" not in records[0].value  # "学生": no names on the wire
    assert len({r.value for r in records}) == len(records)

    fetched = await client.get(
        f"/v1/screenings/bulk/{batch['batch_id']}?errors_limit=2", headers=headers
    )
    assert fetched.status_code == 200
    assert [e["row"] for e in fetched.json()["errors"]] == [101, 5002]
    assert fetched.json()["errors_next_offset"] == 2

    # The same file again is the same batch: nothing is published twice.
    again = await client.post(
        "/v1/screenings/bulk",
        files={"file": ("census.csv", io.BytesIO(data), "text/csv")},
        headers=headers,
        timeout=300,
    )
    assert again.status_code == 200
    assert again.json()["batch_id"] == batch["batch_id"]


async def test_the_sample_export_goes_through_with_four_errors(
    client: httpx.AsyncClient, token
) -> None:
    with (SAMPLES / "census_phq9.csv").open("rb") as handle:
        response = await client.post(
            "/v1/screenings/bulk",
            files={"file": ("census_phq9.csv", handle, "text/csv")},
            headers={**token(Role.CAMPUS_ADMIN, sub="A1"), "Accept-Language": "en"},
        )
    assert response.status_code == 202, response.text
    body = response.json()
    assert (body["rows_accepted"], body["rows_rejected"]) == (40, 4)
    assert sorted({e["row"] for e in body["errors"]}) == [42, 43, 44, 45]
    assert all(e["message"].isascii() for e in body["errors"])


async def test_census_uploads_refuse_what_is_not_a_census(client: httpx.AsyncClient, token) -> None:
    headers = token(Role.COUNSELING_CENTER, sub="T3001")
    pdf = await client.post(
        "/v1/screenings/bulk",
        files={"file": ("x.pdf", b"%PDF-1.4", "application/pdf")},
        headers=headers,
    )
    assert pdf.status_code == 415
    headerless = await client.post(
        "/v1/screenings/bulk",
        files={"file": ("x.csv", "姓名\n张三\n".encode(), "text/csv")},
        headers=headers,
    )
    assert headerless.status_code == 422
    assert headerless.json()["code"] == "unreadable_file"
    student = await client.post(
        "/v1/screenings/bulk",
        files={"file": ("x.csv", b"a", "text/csv")},
        headers=token(Role.CLASS_WELLBEING_OFFICER),
    )
    assert student.status_code == 403
