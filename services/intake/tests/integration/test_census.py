"""Census files over HTTP: streamed, published, bad rows named by number, broken files refused."""

from __future__ import annotations

import io
from typing import Any

import httpx
from openpyxl import Workbook
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events import ScreeningSubmitted
from shouwang_contracts.topics import CENSUS
from shouwang_contracts.vocabulary import Role
from shouwang_devstack.services import ServiceProcess

from .census_builders import SAMPLES, census_csv, census_xlsx, with_sheet_cut_short
from .kafka_reader import TopicReader

ROWS = 20_000
BAD_ROWS = {101: "out_of_range", 5_002: "missing", 12_345: "item_count", 19_999: "invalid"}
# How the row report names them: only the row without a student number is rejected; the
# others are published flagged incomplete and graded on what they say.
LISTED = {101: "out_of_range", 5_002: "missing", 12_345: "unanswered", 19_999: "invalid"}
REJECTED = {5_002}
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
        records = await reader.read(ROWS - len(REJECTED), within=120)

    assert batch["status"] == "completed"
    assert batch["rows_total"] == ROWS
    assert batch["rows_accepted"] == ROWS - len(REJECTED)
    assert batch["rows_rejected"] == len(REJECTED)
    assert batch["rows_incomplete"] == len(BAD_ROWS) - len(REJECTED)
    assert {(e["row"], e["code"]) for e in batch["errors"]} >= set(LISTED.items())
    assert {e["row"] for e in batch["errors"] if not e["graded"]} == REJECTED
    assert response.headers["location"] == f"/v1/screenings/bulk/{batch['batch_id']}"

    assert len(records) == ROWS - len(REJECTED)
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
    assert (body["rows_accepted"], body["rows_rejected"], body["rows_incomplete"]) == (43, 1, 3)
    assert sorted({e["row"] for e in body["errors"]}) == [42, 43, 44, 45]
    assert sorted({e["row"] for e in body["errors"] if e["graded"]}) == [43, 44, 45]
    assert all(e["message"].isascii() for e in body["errors"])

    # Paging past any number the database holds is the client's mistake, not a 500 (found
    # by the API fuzzing in tests/test_api_contracts.py).
    headers = token(Role.CAMPUS_ADMIN, sub="A1")
    url = response.headers["location"]
    too_far = await client.get(url, params={"errors_offset": 2**63}, headers=headers)
    assert too_far.status_code == 422, too_far.text
    assert too_far.json()["errors"][0]["field"] == "query.errors_offset"
    past_the_end = await client.get(url, params={"errors_offset": 2**63 - 1}, headers=headers)
    assert past_the_end.status_code == 200, past_the_end.text
    assert past_the_end.json()["errors"] == []


async def test_census_uploads_refuse_what_is_not_a_census(
    client: httpx.AsyncClient, token, intake: ServiceProcess
) -> None:
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
    for _ in range(20):  # the refused file's reader is closed with the upload, not after it
        again = await client.post(
            "/v1/screenings/bulk",
            files={"file": ("x.csv", "姓名\n张三\n".encode(), "text/csv")},
            headers=headers,
        )
        assert again.status_code == 422
    assert "Exception ignored" not in intake.log_path.read_text(encoding="utf-8")
    student = await client.post(
        "/v1/screenings/bulk",
        files={"file": ("x.csv", b"a", "text/csv")},
        headers=token(Role.CLASS_WELLBEING_OFFICER),
    )
    assert student.status_code == 403


async def test_a_titled_two_row_header_xlsx_goes_through_like_the_sample(
    client: httpx.AsyncClient, token
) -> None:
    """A title line, then 学号 … 量表 merged down over two rows and 各题得分 merged across the
    items named below: the header is found under the title, the rows after it are data."""
    lines = (SAMPLES / "census_phq9.csv").read_text(encoding="utf-8").splitlines()
    table = [line.split(",") for line in lines]
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["2026级新生心理普查（PHQ-9）"])
    sheet.append([*table[0][:4], "PHQ-9 各题得分"])
    sheet.append([None] * 4 + table[0][4:])
    for row in table[1:]:
        sheet.append([int(c) if c.isdigit() else c for c in row])
    for cells in ("A2:A3", "B2:B3", "C2:C3", "D2:D3", "E2:M2"):
        sheet.merge_cells(cells)
    data = io.BytesIO()
    book.save(data)

    response = await client.post(
        "/v1/screenings/bulk",
        files={"file": ("普查.xlsx", io.BytesIO(data.getvalue()), XLSX)},
        headers=token(Role.CAMPUS_ADMIN, sub="A1"),
    )

    assert response.status_code == 202, response.text
    body = response.json()
    assert (body["rows_accepted"], body["rows_rejected"], body["rows_incomplete"]) == (43, 1, 3)
    assert sorted({e["row"] for e in body["errors"]}) == [44, 45, 46, 47]  # the sample's + 2


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
        records = await reader.read(300 - 1, within=60, settle=1.0)

    fetched = await client.get(f"/v1/screenings/bulk/{batch_id}", headers=headers)
    assert fetched.status_code == 200
    batch = fetched.json()
    assert batch["status"] == "completed"
    assert (batch["rows_total"], batch["rows_accepted"], batch["rows_rejected"]) == (300, 299, 1)
    assert batch["rows_incomplete"] == 2
    assert {(e["row"], e["code"]) for e in batch["errors"]} == set(bad_rows.items())

    events = [Envelope[ScreeningSubmitted].model_validate_json(r.value).data for r in records]
    assert all(e.batch_id == batch_id for e in events)
    assert sorted(e.batch_row for e in events) == [row for row in range(2, 302) if row != 188]
    partial = {e.batch_row: e for e in events if e.incomplete}
    assert set(partial) == {57, 250}
    assert partial[57].unanswered_items == [4]  # the 7 is not guessed: item 4 is unanswered
    assert partial[250].unreadable_fields == ["administered_at"]


async def _refused_census(
    client: httpx.AsyncClient, headers: dict[str, str], name: str, data: bytes, kind: str
) -> dict[str, Any]:
    """Post a file that must be refused as unreadable; returns its batch as GET shows it."""
    response = await client.post(
        "/v1/screenings/bulk", files={"file": (name, io.BytesIO(data), kind)}, headers=headers
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == "unreadable_file"
    assert problem["errors"][0]["field"] == "file"
    fetched = await client.get(response.headers["location"], headers=headers)
    assert fetched.status_code == 200
    batch: dict[str, Any] = fetched.json()
    assert batch["failure"] == problem["detail"]
    return batch


async def _events_of(
    reader: TopicReader, batch_id: str, count: int
) -> list[Envelope[ScreeningSubmitted]]:
    """The batch's envelopes on the census topic (waits for `count`, then settles)."""
    records = await reader.read(count, within=60, settle=2.0)
    envelopes = [Envelope[ScreeningSubmitted].model_validate_json(r.value) for r in records]
    return [e for e in envelopes if e.data.batch_id == batch_id]


async def _census_rows_of(reader: TopicReader, batch_id: str, count: int) -> list[int]:
    """Row numbers of the batch's events on the census topic (waits for `count`, then settles)."""
    rows = [e.data.batch_row for e in await _events_of(reader, batch_id, count)]
    assert None not in rows  # every census event names its row
    return sorted(row for row in rows if row is not None)


async def test_an_xlsx_that_breaks_midway_is_refused_and_its_batch_says_how_far_it_got(
    client: httpx.AsyncClient, token, kafka_bootstrap: str
) -> None:
    headers = {**token(Role.COUNSELING_CENTER, sub="T3002"), "Accept-Language": "en"}
    data = with_sheet_cut_short(census_xlsx(400, {5: "out_of_range"}))
    async with TopicReader(kafka_bootstrap, CENSUS) as reader:
        batch = await _refused_census(client, headers, "普查.xlsx", data, XLSX)
        published = await _census_rows_of(reader, batch["batch_id"], batch["rows_accepted"])

    assert batch["status"] == "failed"
    assert batch["completed_at"] is not None
    read = batch["rows_total"]
    assert 5 < read < 400  # stopped partway, after the bad row
    assert f"reading stopped after row {read + 1}" in batch["failure"]  # header is row 1
    assert batch["failure"].isascii()  # asked in English, told in English
    # What was read is told as for any batch: the bad row by number (published, flagged
    # incomplete: its other answers are graded), every row published.
    assert [(e["row"], e["code"], e["graded"]) for e in batch["errors"]] == [
        (5, "out_of_range", True)
    ]
    assert batch["rows_accepted"] == read
    assert published == list(range(2, read + 2))

    # The batch is settled, not stuck: the same file again is refused again at once.
    again = await client.post(
        "/v1/screenings/bulk",
        files={"file": ("普查.xlsx", io.BytesIO(data), XLSX)},
        headers=headers,
    )
    assert again.status_code == 422, again.text


async def test_a_csv_that_stops_decoding_midway_is_refused_and_its_batch_says_how_far_it_got(
    client: httpx.AsyncClient, token, kafka_bootstrap: str
) -> None:
    headers = token(Role.COUNSELING_CENTER, sub="T3003")
    # Clean UTF-8 well past the 256 KiB sniffed for the encoding, then a byte UTF-8 never has.
    head = census_csv(6_000, {3_000: "missing"})
    assert len(head) > 256 * 1024
    data = head + b"2025999999,\xff,2026-09-10 09:30,PHQ-9,0,0,0,0,0,0,0,0,0\n"
    async with TopicReader(kafka_bootstrap, CENSUS) as reader:
        batch = await _refused_census(client, headers, "普查.csv", data, "text/csv")
        published = await _census_rows_of(reader, batch["batch_id"], batch["rows_accepted"])

    assert batch["status"] == "failed"
    read = batch["rows_total"]
    assert 3_000 < read <= 6_000
    assert f"第 {read + 1} 行" in batch["failure"]
    assert "after row" not in batch["failure"]  # zh-CN by default, not both glued together
    assert "utf-8" in batch["failure"]
    assert [(e["row"], e["code"]) for e in batch["errors"]] == [(3_000, "missing")]
    assert batch["rows_accepted"] == read - 1
    assert published == [row for row in range(2, read + 2) if row != 3_000]


async def test_a_corrected_file_repeats_the_rows_already_sent_under_the_same_ids(
    client: httpx.AsyncClient, token, kafka_bootstrap: str
) -> None:
    """After a batch failed midway, the fixed file is a new batch; its rows that were already
    published keep their event ids (consumers take them once), and a changed row gets a new id."""
    headers = token(Role.COUNSELING_CENTER, sub="T3004")
    # Clean UTF-8 past the 256 KiB sniffed for the encoding, then a byte UTF-8 never has.
    clean = census_csv(6_000, {})
    broken = clean + b"2025999999,\xff,2026-09-10 09:30,PHQ-9,0,0,0,0,0,0,0,0,0\n"

    async with TopicReader(kafka_bootstrap, CENSUS) as reader:
        failed = await _refused_census(client, headers, "普查.csv", broken, "text/csv")
        sent = failed["rows_accepted"]
        assert sent > 0
        first_ids = {
            e.data.batch_row: e.id for e in await _events_of(reader, failed["batch_id"], sent)
        }

    # The corrected file: the stray row fixed, and row 2's answers changed.
    lines = clean.decode().splitlines()
    cells = lines[1].split(",")
    cells[-1] = str((int(cells[-1]) + 1) % 4)
    lines[1] = ",".join(cells)
    lines.append("2025999999,学生,2026-09-10 09:30,PHQ-9,0,0,0,0,0,0,0,0,0")
    fixed = ("\n".join(lines) + "\n").encode()
    async with TopicReader(kafka_bootstrap, CENSUS) as reader:
        second = await client.post(
            "/v1/screenings/bulk",
            files={"file": ("普查.csv", io.BytesIO(fixed), "text/csv")},
            headers=headers,
        )
        assert second.status_code == 202, second.text
        batch = second.json()
        assert batch["batch_id"] != failed["batch_id"]
        second_ids = {
            e.data.batch_row: e.id
            for e in await _events_of(reader, batch["batch_id"], batch["rows_accepted"])
        }

    assert batch["rows_accepted"] == 6_001
    unchanged = [row for row in first_ids if row != 2]
    assert unchanged
    assert all(second_ids[row] == first_ids[row] for row in unchanged)
    assert second_ids[2] != first_ids[2]  # other answers: another screening
    assert len(set(second_ids.values())) == len(second_ids)
