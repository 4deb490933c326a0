"""Census files over HTTP, CSV and XLSX: streamed, published, bad rows named by number."""

from __future__ import annotations

import io

import httpx
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events import ScreeningSubmitted
from shouwang_contracts.topics import CENSUS
from shouwang_contracts.vocabulary import Role

from .census_builders import SAMPLES, census_csv, census_xlsx
from .kafka_reader import TopicReader

ROWS = 20_000
BAD_ROWS = {101: "out_of_range", 5_002: "missing", 12_345: "item_count", 19_999: "invalid"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def test_a_20000_row_census_is_accepted_with_its_bad_rows_reported(
    client: httpx.AsyncClient, token, kafka_bootstrap: str
) -> None:
    headers = token(Role.COUNSELING_CENTER, sub="T3001")
    data = census_csv(ROWS, BAD_ROWS)
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


async def test_an_xlsx_census_is_accepted_with_its_bad_rows_named_by_number(
    client: httpx.AsyncClient, token, kafka_bootstrap: str
) -> None:
    headers = token(Role.RESIDENCE_COUNSELOR, sub="T2001")
    bad_rows = {57: "out_of_range", 188: "missing", 250: "invalid"}
    data = census_xlsx(300, bad_rows)
    async with TopicReader(kafka_bootstrap, CENSUS) as reader:
        response = await client.post(
            "/v1/screenings/bulk",
            files={"file": ("普查.xlsx", io.BytesIO(data), XLSX)},
            headers=headers,
        )
        assert response.status_code == 202, response.text
        batch_id = response.json()["batch_id"]
        records = await reader.read(300 - len(bad_rows), within=60, settle=1.0)

    fetched = await client.get(f"/v1/screenings/bulk/{batch_id}", headers=headers)
    assert fetched.status_code == 200
    batch = fetched.json()
    assert batch["status"] == "completed"
    assert (batch["rows_total"], batch["rows_accepted"], batch["rows_rejected"]) == (300, 297, 3)
    assert {(e["row"], e["code"]) for e in batch["errors"]} == set(bad_rows.items())

    events = [Envelope[ScreeningSubmitted].model_validate_json(r.value).data for r in records]
    assert all(e.batch_id == batch_id for e in events)
    assert sorted(e.batch_row for e in events) == [
        row for row in range(2, 302) if row not in bad_rows
    ]
