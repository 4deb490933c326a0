"""A report published as intake would becomes an assessment and an alert with owner and deadline."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta

import asyncpg
import httpx
import pytest
from shouwang_contracts.vocabulary import Role

from .conftest import TriageFactory
from .helpers import Watcher, directory_entry, of_type, publish, report, unique

pytestmark = pytest.mark.integration

GRADED = "shouwang.assessment.graded"
RAISED = "shouwang.alert.raised"


async def test_reports_become_assessments_and_alerts_on_the_right_rung(
    kafka_bootstrap: str, triage_process: TriageFactory
) -> None:
    triage = await triage_process().start_async()
    critical, mild, calm = unique("s"), unique("s"), unique("s")
    plan = report("demo", critical, ["suicide_plan", "giving_away_possessions"])
    async with Watcher(kafka_bootstrap) as watcher:
        await publish(
            kafka_bootstrap,
            plan,
            plan,  # a duplicate delivery changes nothing
            report("demo", mild, ["sleep_disturbance"]),
            report("demo", calm, ["dorm_conflict"], reporter_ref="r2"),
        )
        events = await watcher.wait_for(
            lambda ev: (
                len(of_type(ev, critical, RAISED)) == 1 and len(of_type(ev, mild, RAISED)) == 1
            )
        )
        await watcher.settle(1.5)

    [assessment] = of_type(watcher.events, critical, GRADED)
    assert assessment["data"]["severity"] == "critical"
    critical_reasons = [
        r["rule_id"] for r in assessment["data"]["reasons"] if r["severity"] == "critical"
    ]
    # the plan and, since policy 2026.12-4, the possessions given away (preparation, C-SSRS Q6)
    assert critical_reasons == ["redflag.giving_away_possessions.recent", "redflag.suicide_plan"]
    assert assessment["data"]["policy_version"]
    [alert] = of_type(events, critical, RAISED)
    data = alert["data"]
    assert data["owner_role"] == "counseling_center"
    assert {"residence_counselor", "community_psych_teacher", "college_leader"} <= set(
        data["inform_roles"]
    )
    assert data["inform_external"] == ["campus_security", "emergency_services"]
    assert data["notify_on_duty"] is True
    deadline = datetime.fromisoformat(data["ack_deadline"]) - datetime.fromisoformat(
        data["raised_at"]
    )
    assert deadline == timedelta(minutes=15)
    assert alert["_headers"]["ce_type"] == RAISED.encode()

    [mild_alert] = of_type(watcher.events, mild, RAISED)
    assert mild_alert["data"]["owner_role"] == "residence_counselor"
    mild_deadline = datetime.fromisoformat(mild_alert["data"]["ack_deadline"])
    assert mild_deadline - datetime.fromisoformat(mild_alert["data"]["raised_at"]) == timedelta(
        hours=72
    )
    # dorm_conflict alone is mild too; nothing here is graded `none`, so check a none later.
    assert triage.is_running()


async def test_grade_reads_are_scoped_and_none_goes_unaudited_refusals_included(
    kafka_bootstrap: str,
    triage_process: TriageFactory,
    bearer: Callable[..., dict[str, str]],
    devstack_env: dict[str, str],
) -> None:
    triage = await triage_process().start_async()
    student = unique("s")
    async with Watcher(kafka_bootstrap) as watcher:
        key = devstack_env["SHOUWANG_PLACEMENT_KEY"]
        await publish(kafka_bootstrap, directory_entry("demo", student, "8号楼", key))
        await publish(kafka_bootstrap, report("demo", student, ["self_harm_talk", "hopelessness"]))
        await watcher.wait_for(lambda ev: len(of_type(ev, student, RAISED)) == 1)

    url = f"{triage.base_url}/v1/students/{student}/grade"
    async with httpx.AsyncClient(timeout=5) as client:
        in_scope = bearer(Role.RESIDENCE_COUNSELOR, scope=["building:8号楼"])
        for _ in range(50):  # the directory consumer may still be catching up
            answer = await client.get(url, headers=in_scope)
            if answer.status_code == 200:
                break
            await _sleep(0.2)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["severity"] == "severe"
        assert body["severity_label"] == "重度"
        assert body["reasons"][0]["text"].startswith("流露")
        assert body["open_alert"]["owner_role"] == "counseling_center"

        english = await client.get(url, headers={**in_scope, "Accept-Language": "en"})
        assert english.json()["severity_label"] == "Severe"
        assert english.json()["reasons"][0]["text"].startswith("Thoughts of self-harm")

        center = await client.get(url, headers=bearer(Role.COUNSELING_CENTER))
        assert center.status_code == 200
        # A room grant matches by its keyed hash too; a college grant by the college's name.
        room = await client.get(
            url, headers=bearer(Role.RESIDENCE_COUNSELOR, scope=["room:8号楼/302"])
        )
        assert room.status_code == 200, room.text
        college = await client.get(
            url, headers=bearer(Role.COLLEGE_LEADER, scope=["college:土木学院"])
        )
        assert college.status_code == 200, college.text

        for headers, code in [
            (bearer(Role.DORM_LEADER, scope=["building:8号楼"]), "role_forbidden"),
            (bearer(Role.CLASS_WELLBEING_OFFICER), "role_forbidden"),
            (bearer(Role.RESIDENCE_COUNSELOR, scope=["building:9号楼"]), "scope_forbidden"),
            (
                bearer(Role.RESIDENCE_COUNSELOR, campus="other", scope=["building:8号楼"]),
                "scope_forbidden",
            ),
        ]:
            denied = await client.get(url, headers=headers)
            assert denied.status_code == 403, denied.text
            assert denied.headers["content-type"].startswith("application/problem+json")
            assert denied.json()["code"] == code

        missing = await client.get(url)
        assert missing.status_code == 401
        unknown = await client.get(
            f"{triage.base_url}/v1/students/{unique('s')}/grade",
            headers=bearer(Role.COUNSELING_CENTER),
        )
        assert unknown.status_code == 404
        assert unknown.json()["title"] == "未找到"
        assert (await client.get(f"{triage.base_url}/healthz")).status_code == 200
        # Every read of this student's grade is audited, refusals too (as casework's files).
        conn = await asyncpg.connect(triage.env["TRIAGE_DATABASE_URL"])
        try:
            trail = await conn.fetch(
                "SELECT role, action, reason FROM grade_reads WHERE student_ref = $1 ORDER BY id",
                student,
            )
        finally:
            await conn.close()
        actions = [(r["role"], r["action"], r["reason"]) for r in trail]
        assert ("residence_counselor", "grade.read", None) in actions
        assert ("counseling_center", "grade.read", None) in actions
        assert ("dorm_leader", "grade.read.refused", "role_forbidden") in actions
        assert ("residence_counselor", "grade.read.refused", "scope_forbidden") in actions
        metrics = (await client.get(f"{triage.base_url}/metrics")).text
        assert "triage_assessments_graded_total" in metrics
        assert "triage_grading_seconds_bucket" in metrics


async def test_grade_refusals_are_chinese_unless_english_comes_first(
    triage_process: TriageFactory, bearer: Callable[..., dict[str, str]]
) -> None:
    triage = await triage_process().start_async()
    url = f"{triage.base_url}/v1/students/{unique('s')}/grade"  # a student nobody knows
    refusals = [
        (bearer(Role.DORM_LEADER), 403, "role_forbidden", ("寝室长", "dorm_leader")),
        (
            bearer(Role.RESIDENCE_COUNSELOR, scope=["building:8号楼"]),
            403,
            "scope_forbidden",
            ("负责范围", "scope"),
        ),
        (bearer(Role.COUNSELING_CENTER), 404, "grade_not_found", ("研判结果", "grade")),
    ]
    async with httpx.AsyncClient(timeout=5) as client:
        for headers, status, code, (zh_word, en_word) in refusals:
            chinese = await client.get(url, headers=headers)
            english = await client.get(
                url, headers={**headers, "Accept-Language": "en-US,en;q=0.9"}
            )
            for answer in (chinese, english):
                assert answer.status_code == status, answer.text
                assert answer.json()["code"] == code
            # zh-CN alone (no English glued on), and English alone.
            assert not re.search("[A-Za-z]", chinese.json()["detail"]), chinese.text
            assert zh_word in chinese.json()["detail"]
            assert english.json()["detail"].isascii(), english.text
            assert en_word in english.json()["detail"]


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)
