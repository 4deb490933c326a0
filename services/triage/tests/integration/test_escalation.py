"""An unacknowledged alert climbs the ladder on a short per-campus ladder, and stops when acknowledged."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from .conftest import FAST_CAMPUS, REALERT_SECONDS, TriageFactory
from .helpers import Watcher, acknowledgement, eventually, of_type, publish, report, unique

pytestmark = pytest.mark.integration

RAISED = "shouwang.alert.raised"
ESCALATED = "shouwang.alert.escalated"


async def test_an_unacknowledged_alert_climbs_to_the_top_then_stops(
    kafka_bootstrap: str, triage_process: TriageFactory
) -> None:
    await triage_process().start_async()
    student = unique("s")
    async with Watcher(kafka_bootstrap) as watcher:
        await publish(kafka_bootstrap, report(FAST_CAMPUS, student, ["sleep_disturbance"]))
        await watcher.wait_for(lambda ev: len(of_type(ev, student, ESCALATED)) >= 3, within=30)
        await watcher.settle(4)  # one more deadline passes: nobody above the college leader

    [raised] = of_type(watcher.events, student, RAISED)
    assert raised["data"]["owner_role"] == "residence_counselor"
    steps = of_type(watcher.events, student, ESCALATED)
    assert [
        (e["data"]["from_role"], e["data"]["owner_role"], e["data"]["escalation_level"])
        for e in steps
    ] == [
        ("residence_counselor", "community_psych_teacher", 1),
        ("community_psych_teacher", "counseling_center", 2),
        ("counseling_center", "college_leader", 3),
    ]
    assert all(e["data"]["alert_id"] == raised["data"]["alert_id"] for e in steps)
    assert "residence_counselor" in steps[0]["data"]["inform_roles"]
    assert steps[0]["data"]["missed_deadline"] == raised["data"]["ack_deadline"]


async def test_acknowledgement_stops_the_climb(
    kafka_bootstrap: str, triage_process: TriageFactory
) -> None:
    await triage_process().start_async()
    student = unique("s")
    async with Watcher(kafka_bootstrap) as watcher:
        await publish(kafka_bootstrap, report(FAST_CAMPUS, student, ["sleep_disturbance"]))
        await watcher.wait_for(lambda ev: len(of_type(ev, student, ESCALATED)) >= 1, within=20)
        [raised] = of_type(watcher.events, student, RAISED)
        assert raised["data"]["owner_role"] == "residence_counselor"
        await publish(
            kafka_bootstrap, acknowledgement(FAST_CAMPUS, student, raised["data"]["alert_id"])
        )
        await watcher.settle(4)  # the acknowledgement may race one escalation in flight
        after_ack = len(of_type(watcher.events, student, ESCALATED))
        await watcher.settle(8)  # more than two further deadlines

    steps = of_type(watcher.events, student, ESCALATED)
    assert after_ack <= 2
    assert len(steps) == after_ack, "no escalation after the acknowledgement took effect"
    assert steps[-1]["data"]["owner_role"] != "college_leader"


async def test_a_higher_grade_upgrades_the_open_alert_and_a_lower_one_keeps_it(
    kafka_bootstrap: str, triage_process: TriageFactory
) -> None:
    await triage_process().start_async()
    student = unique("s")
    async with Watcher(kafka_bootstrap) as watcher:
        await publish(kafka_bootstrap, report("demo", student, ["sleep_disturbance"]))
        await watcher.wait_for(lambda ev: len(of_type(ev, student, RAISED)) == 1)
        await publish(kafka_bootstrap, report("demo", student, ["self_harm_talk", "hopelessness"]))
        await watcher.wait_for(lambda ev: len(of_type(ev, student, RAISED)) == 2)
        await publish(kafka_bootstrap, report("demo", student, ["dorm_conflict"]))
        await watcher.wait_for(
            lambda ev: len(of_type(ev, student, "shouwang.assessment.graded")) == 3
        )
        await watcher.settle(1)

    first, second = of_type(watcher.events, student, RAISED)
    assert second["data"]["severity"] == "severe"
    assert second["data"]["supersedes_alert_id"] == first["data"]["alert_id"]
    assert len(of_type(watcher.events, student, RAISED)) == 2  # the third report raised nothing
    third = of_type(watcher.events, student, "shouwang.assessment.graded")[-1]
    assert third["data"]["previous_severity"] == "severe"


async def test_a_critical_alert_nobody_acknowledges_re_alerts_until_someone_does(
    kafka_bootstrap: str, triage_process: TriageFactory
) -> None:
    """Past the last rung a critical alert keeps coming back, to the top owner and the on-duty
    contact, at the campus's re-alert interval; the acknowledgement stops it at once."""
    triage = await triage_process().start_async()
    student = unique("s")

    def realerts(events: list[dict[str, object]]) -> list[dict[str, Any]]:
        steps = of_type(events, student, ESCALATED)
        return [e for e in steps if e["data"]["realert_attempt"] > 0]

    async def acknowledged() -> bool:
        async with httpx.AsyncClient(timeout=5) as client:
            metrics = (await client.get(f"{triage.base_url}/metrics")).text
        return 'triage_alerts_acknowledged_total{severity="critical"} 1.0' in metrics

    async with Watcher(kafka_bootstrap) as watcher:
        await publish(kafka_bootstrap, report(FAST_CAMPUS, student, ["suicide_plan"]))
        await watcher.wait_for(lambda ev: len(realerts(ev)) >= 3, within=90)
        [raised] = of_type(watcher.events, student, RAISED)
        await publish(
            kafka_bootstrap, acknowledgement(FAST_CAMPUS, student, raised["data"]["alert_id"])
        )
        await eventually(acknowledged, within=30)
        # A re-alert committed just before the acknowledgement may still be on its way out.
        await watcher.settle(1.5)
        after_ack = len(of_type(watcher.events, student, ESCALATED))
        await watcher.settle(4 * REALERT_SECONDS)

    steps = of_type(watcher.events, student, ESCALATED)
    assert len(steps) == after_ack, "no re-alert after the acknowledgement took effect"
    assert raised["data"]["severity"] == "critical"
    assert raised["data"]["notify_on_duty"] is True
    assert raised["data"]["inform_external"] == ["campus_security", "emergency_services"]

    climb, *again = steps
    assert (climb["data"]["from_role"], climb["data"]["owner_role"]) == (
        "counseling_center",
        "college_leader",
    )
    assert climb["data"]["realert_attempt"] == 0
    assert len(again) >= 3
    assert [e["data"]["realert_attempt"] for e in again] == list(range(1, len(again) + 1))
    assert [e["data"]["escalation_level"] for e in steps] == list(range(1, len(steps) + 1))
    previous = climb
    for step in again:
        data = step["data"]
        assert (data["from_role"], data["owner_role"]) == ("college_leader", "college_leader")
        assert data["notify_on_duty"] is True
        assert data["inform_external"] == ["campus_security", "emergency_services"]
        assert "counseling_center" in data["inform_roles"]
        # Each re-alert answers the deadline the previous one set, and sets the next one
        # the configured interval later.
        assert data["missed_deadline"] == previous["data"]["ack_deadline"]
        deadline = datetime.fromisoformat(data["ack_deadline"])
        assert deadline - datetime.fromisoformat(data["escalated_at"]) == timedelta(
            seconds=REALERT_SECONDS
        )
        previous = step
