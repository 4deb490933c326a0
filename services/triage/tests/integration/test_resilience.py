"""kill -9 and restart loses and doubles nothing; two replicas escalate each deadline once;
poison records go to the dead-letter topic and the consumer goes on."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from shouwang_contracts.topics import REPORTS, dead_letter_topic

from .conftest import FAST_CAMPUS, TriageFactory
from .helpers import Watcher, of_type, publish, publish_raw, report, unique

pytestmark = pytest.mark.integration

GRADED = "shouwang.assessment.graded"
RAISED = "shouwang.alert.raised"
ESCALATED = "shouwang.alert.escalated"


async def test_kill_and_restart_loses_and_doubles_nothing(
    kafka_bootstrap: str, triage_process: TriageFactory, service_database: object
) -> None:
    database = await service_database("triage")  # type: ignore[operator]
    group = unique("triage-restart")
    first = await triage_process(database, group=group).start_async()
    students = [unique("s") for _ in range(6)]
    async with Watcher(kafka_bootstrap) as watcher:
        await publish(
            kafka_bootstrap, *(report(FAST_CAMPUS, s, ["sleep_disturbance"]) for s in students[:3])
        )
        await watcher.wait_for(lambda ev: all(of_type(ev, s, RAISED) for s in students[:3]))
        first.kill()  # kill -9 with alerts pending (deadlines 3 s away)
        await publish(
            kafka_bootstrap, *(report(FAST_CAMPUS, s, ["sleep_disturbance"]) for s in students[3:])
        )
        await asyncio.sleep(4)  # the first alerts' deadlines pass while triage is down
        second = await triage_process(database, group=group).start_async()
        await watcher.wait_for(
            lambda ev: all(len(of_type(ev, s, ESCALATED)) >= 2 for s in students), within=40
        )
        await watcher.settle(1)
        assert second.is_running()

    for student in students:
        assessments = {e["id"] for e in of_type(watcher.events, student, GRADED)}
        alerts = {e["data"]["alert_id"] for e in of_type(watcher.events, student, RAISED)}
        assert len(assessments) == 1, student
        assert len(alerts) == 1, student
        levels = Counter(
            e["data"]["escalation_level"] for e in of_type(watcher.events, student, ESCALATED)
        )
        # The same step may be republished after a crash, but always under the same id.
        ids_per_level = {
            level: {
                e["id"]
                for e in of_type(watcher.events, student, ESCALATED)
                if e["data"]["escalation_level"] == level
            }
            for level in levels
        }
        assert all(len(ids) == 1 for ids in ids_per_level.values()), ids_per_level


async def test_two_replicas_escalate_each_deadline_once(
    kafka_bootstrap: str, triage_process: TriageFactory, service_database: object
) -> None:
    database = await service_database("triage")  # type: ignore[operator]
    group = unique("triage-replicas")
    replicas = [triage_process(database, group=group) for _ in range(2)]
    await asyncio.gather(*(r.start_async() for r in replicas))
    students = [unique("s") for _ in range(12)]
    async with Watcher(kafka_bootstrap) as watcher:
        await publish(
            kafka_bootstrap, *(report(FAST_CAMPUS, s, ["sleep_disturbance"]) for s in students)
        )
        await watcher.wait_for(
            lambda ev: all(len(of_type(ev, s, ESCALATED)) >= 2 for s in students), within=40
        )
        await watcher.settle(2)

    for student in students:
        steps = Counter(
            e["data"]["escalation_level"] for e in of_type(watcher.events, student, ESCALATED)
        )
        # Every record on the topic counted: no step published twice by the two replicas.
        assert all(count == 1 for count in steps.values()), (student, steps)
        assert len(of_type(watcher.events, student, RAISED)) == 1


async def test_poison_goes_to_the_dead_letter_topic_and_the_next_report_is_graded(
    kafka_bootstrap: str, triage_process: TriageFactory
) -> None:
    await triage_process().start_async()
    student = unique("s")
    marker = unique("poison").encode()
    async with Watcher(
        kafka_bootstrap, topics=(dead_letter_topic(REPORTS), "shouwang.assessments.v1")
    ) as watcher:
        await publish_raw(kafka_bootstrap, REPORTS, b"{not json " + marker, key=b"demo:" + marker)
        await publish_raw(
            kafka_bootstrap,
            REPORTS,
            b'{"id": "x", "type": "shouwang.report.submitted"}',
            key=b"demo:" + marker,
        )
        await publish(kafka_bootstrap, report("demo", student, ["academic_decline"]))
        await watcher.wait_for(lambda ev: len(of_type(ev, student, GRADED)) == 1)
        await watcher.wait_for(
            lambda ev: (
                len(
                    [
                        e
                        for e in ev
                        if e["_topic"].endswith(".dlq")
                        and e["_headers"].get("x-dlq-consumer", b"").startswith(b"triage-test")
                    ]
                )
                >= 2
            )
        )

    dead = [
        e for e in watcher.events if e["_topic"].endswith(".dlq") and marker in e.get("raw", b"")
    ]
    assert dead, "the malformed record is in the dead-letter topic"
    headers = dead[0]["_headers"]
    assert headers["x-dlq-source-topic"] == REPORTS.encode()
    assert b"not a valid shouwang.report.submitted" in headers["x-dlq-reason"]
    assert headers["x-dlq-offset"].isdigit()
    [graded] = of_type(watcher.events, student, GRADED)
    assert graded["data"]["severity"] == "mild"
