"""The gateway in front of a real intake process (on the session's Kafka and PostgreSQL): a
signed-in dorm leader's report is accepted with the token the gateway minted, replayed once
under its Idempotency-Key, and its receipt read back under the gateway's own path."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from .conftest import Open

pytestmark = pytest.mark.integration


async def test_a_report_goes_through_the_gateway_once_and_its_receipt_comes_back(
    open_gateway: Open, module_service_process: Any
) -> None:
    intake = module_service_process("intake")
    await intake.start_async()
    browser = await open_gateway(upstreams={"intake": intake.base_url})
    await browser.sign_in()
    key = str(uuid.uuid4())
    body = {
        "campus_id": "demo",
        "student_no": "2024020031",
        "signals": ["hopelessness"],
        "observed_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
    }
    headers = {**browser.writes(), "Idempotency-Key": key}
    first = await browser.http.post("/api/intake/v1/reports", json=body, headers=headers)
    assert first.status_code == 202, first.text
    again = await browser.http.post("/api/intake/v1/reports", json=body, headers=headers)
    assert again.status_code == 202
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["report_id"] == first.json()["report_id"]
    location = first.headers["location"]
    assert location == f"/api/intake/v1/reports/{first.json()['report_id']}"
    receipt = await browser.http.get(location, headers={"Accept-Language": "en"})
    assert receipt.status_code == 200
    assert receipt.json()["status_label"] in ("Received", "Being handled")
    mine = await browser.http.get("/api/intake/v1/reports")
    assert [r["id"] for r in mine.json()["items"]] == [first.json()["report_id"]]
    # A problem from the service comes back as the service wrote it, in the reader's language.
    bad = await browser.http.post(
        "/api/intake/v1/reports", json={**body, "signals": []}, headers=browser.writes()
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")


async def test_an_answer_through_the_gateway_carries_one_traceparent_of_the_browsers_trace(
    open_gateway: Open, module_service_process: Any
) -> None:
    """The gateway relayed the service's `traceparent` beside its own: two values in one
    answer, which W3C Trace Context does not allow (tracing tools drop or misread it). Now the
    service continues the gateway's trace and the answer carries the gateway's one."""
    intake = module_service_process("intake")
    await intake.start_async()
    browser = await open_gateway(upstreams={"intake": intake.base_url})
    await browser.sign_in()
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    sent = f"00-{trace_id}-00f067aa0ba902b7-01"
    answer = await browser.http.get("/api/intake/v1/reports", headers={"traceparent": sent})
    assert answer.status_code == 200
    values = answer.headers.get_list("traceparent")
    assert len(values) == 1, values
    assert "," not in values[0]
    assert values[0].split("-")[1] == trace_id
