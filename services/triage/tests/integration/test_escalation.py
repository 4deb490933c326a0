"""An unacknowledged alert climbs the ladder on a short per-campus ladder, and stops when acknowledged."""

from __future__ import annotations

import pytest

from .conftest import FAST_CAMPUS, TriageFactory
from .helpers import Watcher, acknowledgement, of_type, publish, report, unique

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
        await publish(kafka_bootstrap, report("demo", student, ["self_harm_behavior"]))
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
