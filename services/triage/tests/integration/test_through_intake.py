"""The real path: a report posted to intake's HTTP API becomes triage's alert; screenings and
census rows published as intake would are graded on their own topics; a census file with
partial rows uploaded to intake raises the red-flag alerts its rows carry."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from shouwang_contracts.auth import mint_token
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events.intake import ScreeningSubmitted
from shouwang_contracts.instruments import Instrument
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_contracts.vocabulary import Role

from .conftest import TriageFactory
from .helpers import Watcher, of_type, publish, unique

pytestmark = pytest.mark.integration

RAISED = "shouwang.alert.raised"
GRADED = "shouwang.assessment.graded"
PARTIAL = Path(__file__).resolve().parents[4] / "tests" / "fixtures" / "census_partial_rows.csv"


async def test_a_report_posted_to_intake_raises_a_critical_alert(
    kafka_bootstrap: str,
    triage_process: TriageFactory,
    service_process,  # type: ignore[no-untyped-def]
    devstack_env: dict[str, str],
) -> None:
    await triage_process().start_async()
    intake = await service_process("intake").start_async()
    student_no = f"T{uuid.uuid4().int % 10**9:09d}"
    student_ref = Pseudonymizer(devstack_env["SHOUWANG_PSEUDONYM_KEY"].encode()).student_ref(
        "demo", student_no
    )
    token = mint_token(
        devstack_env["SHOUWANG_JWT_SECRET"], sub="R1", role=Role.FLOOR_LEADER, campus_id="demo"
    )
    async with Watcher(kafka_bootstrap) as watcher, httpx.AsyncClient(timeout=10) as client:
        answer = await client.post(
            f"{intake.base_url}/v1/reports",
            json={
                "campus_id": "demo",
                "student_no": student_no,
                "signals": ["suicide_plan", "giving_away_possessions"],
                "observed_at": datetime.now(UTC).isoformat(),
                "note": "在走廊听到他说要把东西都送人",
            },
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == 202, answer.text
        await watcher.wait_for(
            lambda ev: (
                len(of_type(ev, student_ref, RAISED)) == 1
                and len(of_type(ev, student_ref, GRADED)) == 1
            )
        )

    [alert] = of_type(watcher.events, student_ref, RAISED)
    assert alert["data"]["severity"] == "critical"
    assert alert["data"]["owner_role"] == "counseling_center"
    [assessment] = of_type(watcher.events, student_ref, GRADED)
    assert assessment["data"]["report_ids"] == [answer.json()["id"]]


def screening(
    student: str, items: list[int], *, batch: str | None = None
) -> Envelope[ScreeningSubmitted]:
    payload = ScreeningSubmitted(
        screening_id=str(uuid.uuid4()),
        student_ref=student,
        submitted_by_ref="staff-1",
        instrument=Instrument.PHQ9,
        items=items,
        administered_at=datetime.now(UTC),
        batch_id=batch,
        batch_row=2 if batch else None,
    )
    return Envelope.wrap(payload, source="/shouwang/intake", campus_id="demo", subject=student)


async def test_screenings_and_census_rows_are_graded(
    kafka_bootstrap: str, triage_process: TriageFactory
) -> None:
    triage = triage_process()
    await triage.start_async()
    single, census_calm, census_critical = unique("s"), unique("s"), unique("s")
    batch = str(uuid.uuid4())
    rows = [
        screening(single, [2, 2, 2, 2, 2, 0, 0, 0, 0]),  # total 10: moderate
        screening(census_calm, [0, 1, 0, 0, 1, 0, 0, 0, 0], batch=batch),  # total 2: none
        screening(census_critical, [3, 3, 3, 3, 3, 2, 1, 0, 3], batch=batch),  # 21 with item 9 = 3
    ]
    assert rows[1].data.topic == "shouwang.census.v1"
    async with Watcher(kafka_bootstrap) as watcher:
        await publish(kafka_bootstrap, *rows)
        await watcher.wait_for(
            lambda ev: (
                all(of_type(ev, s, GRADED) for s in (single, census_calm, census_critical))
                and len(of_type(ev, census_critical, RAISED)) == 1
            )
        )
        await watcher.settle(1)

    assert of_type(watcher.events, single, GRADED)[0]["data"]["severity"] == "moderate"
    assert of_type(watcher.events, census_calm, GRADED)[0]["data"]["severity"] == "none"
    assert of_type(watcher.events, census_calm, RAISED) == []
    critical = of_type(watcher.events, census_critical, RAISED)[0]["data"]
    assert critical["severity"] == "critical"
    reasons = of_type(watcher.events, census_critical, GRADED)[0]["data"]["reasons"]
    assert reasons[0]["rule_id"] == "phq9.item9.daily_with_severe_total"

    # The census lane rested after its batch (default duty cycle): it yields the box to reports.
    async with httpx.AsyncClient() as client:
        metrics = (await client.get(f"{triage.base_url}/metrics")).text
    [rested] = [
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("triage_census_rested_seconds_total ")
    ]
    assert rested > 0


# Each student number of the partial-rows fixture: the alert its row must raise, and whether
# the grade rests on an incomplete sheet.
PARTIAL_ALERTS = {
    # PHQ-9 item 9 = 3, item 3 blank: the answered items make 21, so the total is at least 21
    "2024090001": ("critical", True),
    "2024090002": ("critical", False),  # C-SSRS Q5, recency "无" with Q6 no
    "2024090003": ("critical", False),  # Q5 and Q6 "3个月内"
    "2024090004": ("critical", False),  # Q6 "近三个月"
    "2024090005": ("critical", True),  # Q5, Q6 yes with a blank recency
    "2024090006": ("critical", True),  # Q6 yes, recency "不记得了": read as the past 3 months
    "2024090007": ("critical", True),  # Q5 with Q2 blank
    "2024090008": ("severe", True),  # only item 9 = 2 answered
    "2024090009": ("moderate", True),  # item 9 = 1, item 4 "x"
    "2024090012": ("severe", True),  # item 9 = 3, time unreadable: graded as of the upload
}
PARTIAL_CALM = "2024090010"


async def test_a_census_file_with_partial_rows_raises_the_red_flag_alerts_end_to_end(
    kafka_bootstrap: str,
    triage_process: TriageFactory,
    service_process,  # type: ignore[no-untyped-def]
    devstack_env: dict[str, str],
) -> None:
    await triage_process().start_async()
    intake = await service_process("intake").start_async()
    campus = unique("partial")
    pseudonyms = Pseudonymizer(devstack_env["SHOUWANG_PSEUDONYM_KEY"].encode())
    refs = {no: pseudonyms.student_ref(campus, no) for no in [*PARTIAL_ALERTS, PARTIAL_CALM]}
    token = mint_token(
        devstack_env["SHOUWANG_JWT_SECRET"],
        sub="T9001",
        role=Role.COUNSELING_CENTER,
        campus_id=campus,
    )
    async with Watcher(kafka_bootstrap) as watcher, httpx.AsyncClient(timeout=60) as client:
        with PARTIAL.open("rb") as handle:
            answer = await client.post(
                f"{intake.base_url}/v1/screenings/bulk",
                files={"file": ("普查.csv", handle, "text/csv")},
                headers={"Authorization": f"Bearer {token}"},
            )
        assert answer.status_code == 202, answer.text
        await watcher.wait_for(
            lambda ev: (
                all(of_type(ev, refs[no], RAISED) for no in PARTIAL_ALERTS)
                and bool(of_type(ev, refs[PARTIAL_CALM], GRADED))
            ),
            within=90,
        )
        await watcher.settle(1)

    # The row report: one row rejected (no student number), the partial ones listed by row
    # and still graded.
    batch = answer.json()
    assert (batch["rows_total"], batch["rows_accepted"], batch["rows_rejected"]) == (12, 11, 1)
    assert batch["rows_incomplete"] == 7
    assert {e["row"] for e in batch["errors"] if not e["graded"]} == {12}
    assert {e["row"] for e in batch["errors"] if e["graded"]} == {2, 6, 7, 8, 9, 10, 13}

    for student_no, (severity, incomplete) in PARTIAL_ALERTS.items():
        [alert] = of_type(watcher.events, refs[student_no], RAISED)
        assert alert["data"]["severity"] == severity, student_no
        assert alert["data"]["incomplete_sheet"] is incomplete, student_no
        if severity == "critical":
            assert alert["data"]["notify_on_duty"] is True
            assert "emergency_services" in alert["data"]["inform_external"]
    [blank_item] = of_type(watcher.events, refs["2024090001"], GRADED)
    assert [r["rule_id"] for r in blank_item["data"]["reasons"]] == [
        "phq9.item9.daily_with_severe_total",
        "phq9.total.severe",
    ]
    assert "第3题未作答，按已答题目计分" in blank_item["data"]["reasons"][0]["text_zh"]
    [moderate] = of_type(watcher.events, refs["2024090009"], RAISED)
    assert [t["task"] for t in moderate["data"]["follow_up_tasks"]] == ["cssrs_screen"]
    assert of_type(watcher.events, refs[PARTIAL_CALM], RAISED) == []
    assert of_type(watcher.events, refs[PARTIAL_CALM], GRADED)[0]["data"]["severity"] == "none"
