"""Casework as a real process on real Kafka and PostgreSQL.

- triage's `assessment.graded` + `alert.raised` open a case owned by the counselor of the
  student's building; a second assessment attaches; a redelivery changes nothing; a poison
  record goes to the dead-letter topic and the consumer goes on;
- `kill -9` between the state change and the relay loses no event: after the restart every
  outbox event reaches the cases topic, and deduplicated by id each is seen once, in order;
- a PostgreSQL outage rewinds the consumers instead of skipping: once the database is back,
  the warning published during the outage opens its case.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from shouwang_casework.entrypoints.record_consumers import file_groups
from shouwang_contracts.kafka import DLQ_REASON
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_contracts.topics import ASSESSMENTS, CASES, dead_letter_topic
from shouwang_contracts.vocabulary import Role, Severity
from shouwang_devstack.topics import start_groups_at_end

sys.path.insert(0, str(Path(__file__).parent))  # the shared helpers next to this file
from cases_support import (
    CENTER,
    COUNSELOR_8,
    STUDENT_NO,
    TopicReader,
    import_roster,
    publish,
    token,
    wait_for,
    warning,
)

pytestmark = pytest.mark.integration


async def start_casework(
    service_process: Any, devstack_env: dict[str, str], kafka_bootstrap: str, **env: str
) -> Any:
    # The student file's consumers on groups of their own at the topics' end: these tests do
    # not read the file, and its default groups would first work through every report earlier
    # tests published.
    files = f"casework-it-file-{uuid.uuid4().hex[:6]}"
    await start_groups_at_end(kafka_bootstrap, {g: t for t, g in file_groups(files).items()})
    proc = service_process(
        "casework",
        env={
            "CASEWORK_CONSUMER_GROUP": "casework-it",
            "CASEWORK_FILE_CONSUMER_GROUP": files,
            **env,
        },
    )
    await proc.start_async(within=90)
    return proc


def keys(devstack_env: dict[str, str]) -> tuple[str, Pseudonymizer]:
    secret = devstack_env["SHOUWANG_JWT_SECRET"]
    return secret, Pseudonymizer(devstack_env["SHOUWANG_PSEUDONYM_KEY"].encode())


async def queue_of(client: httpx.AsyncClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = await client.get("/v1/cases", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


async def alert_landed(client: httpx.AsyncClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    """The queue once the case and its alert are both in: they come through two consumers."""
    items = await queue_of(client, headers)
    return items if items and items[0]["unacknowledged_alerts"] == 1 else []


async def test_warnings_on_kafka_open_and_feed_one_case(
    service_process: Any, devstack_env: dict[str, str], kafka_bootstrap: str
) -> None:
    proc = await start_casework(service_process, devstack_env, kafka_bootstrap)
    secret, pseudonyms = keys(devstack_env)
    campus = f"campus-{uuid.uuid4().hex[:8]}"
    student = pseudonyms.student_ref(campus, STUDENT_NO)
    counselor = token(secret, campus, COUNSELOR_8, Role.RESIDENCE_COUNSELOR)
    async with (
        httpx.AsyncClient(base_url=proc.base_url, timeout=10) as client,
        TopicReader(kafka_bootstrap, CASES) as cases_topic,
        TopicReader(kafka_bootstrap, dead_letter_topic(ASSESSMENTS)) as dlq,
    ):
        await import_roster(client, campus, secret)
        first = warning(campus, student, Severity.MILD, Role.RESIDENCE_COUNSELOR)
        await publish(kafka_bootstrap, first.assessment, first.alert)
        items = await wait_for(lambda: queue_of(client, counselor), within=120)
        assert len(items) == 1, proc.log_text()[-3000:]
        assert items[0]["owner_ref"] == pseudonyms.person_ref(campus, COUNSELOR_8)
        case_id = items[0]["case_id"]

        # A poison record is dead-lettered with its reason; a redelivery and a second
        # assessment behind it are still handled (the consumer went on).
        await publish(kafka_bootstrap, raw=b'{"not": "an envelope"}', topic=ASSESSMENTS)
        second = warning(campus, student, Severity.MODERATE, Role.COMMUNITY_PSYCH_TEACHER)
        await publish(kafka_bootstrap, first.assessment, second.assessment)

        async def raised() -> bool:
            return (await queue_of(client, counselor))[0]["severity"] == "moderate"

        assert await wait_for(raised, within=120), proc.log_text()[-3000:]
        items = await queue_of(client, counselor)
        assert [i["case_id"] for i in items] == [case_id]  # attached, not a second case
        dead = await dlq.read_until(lambda rs: any(r.key == b"poison" for r in rs))
        poison = next(r for r in dead if r.key == b"poison")
        assert dict(poison.headers)[DLQ_REASON].decode().startswith("not a valid")

        # The public events reach the cases topic, keyed by campus:student.
        def ours(records: list[Any]) -> list[dict[str, Any]]:
            return [
                json.loads(r.value) for r in records if json.loads(r.value)["campus_id"] == campus
            ]

        records = await cases_topic.read_until(
            lambda rs: (
                {"shouwang.case.opened", "shouwang.case.severity_changed"}
                <= {e["type"] for e in ours(rs)}
            )
        )
        events = ours(records)
        opened = next(e for e in events if e["type"] == "shouwang.case.opened")
        if not opened["data"]["report_ids"]:
            # The alert got there before its assessment: the reports follow as an attachment.
            wanted_first = first.assessment.data.report_ids

            def first_attached(evts: list[dict[str, Any]]) -> bool:
                return any(
                    e["type"] == "shouwang.case.reports_attached"
                    and e["data"]["report_ids"] == wanted_first
                    for e in evts
                )

            if not first_attached(events):
                events += ours(await cases_topic.read_until(lambda rs: first_attached(ours(rs))))
            assert first_attached(events)
        else:
            assert opened["data"]["report_ids"] == first.assessment.data.report_ids
        assert opened["data"]["owner_ref"] == pseudonyms.person_ref(campus, COUNSELOR_8)
        assert all(
            r.key == f"{campus}:{student}".encode()
            for r in records
            if json.loads(r.value)["campus_id"] == campus
            and json.loads(r.value)["type"].startswith("shouwang.case")
        )
        changed = next(e for e in events if e["type"] == "shouwang.case.severity_changed")
        assert changed["data"]["report_ids"] == second.assessment.data.report_ids

        # A report that changes nothing else still tells its reporter it is being handled.
        third = warning(campus, student, Severity.MODERATE, Role.COMMUNITY_PSYCH_TEACHER)
        await publish(kafka_bootstrap, third.assessment)
        wanted = third.assessment.data.report_ids
        records = await cases_topic.read_until(
            lambda rs: any(
                e["type"] == "shouwang.case.reports_attached" and e["data"]["report_ids"] == wanted
                for e in ours(rs)
            )
        )
        attached = next(
            e
            for e in ours(records)
            if e["type"] == "shouwang.case.reports_attached" and e["data"]["report_ids"] == wanted
        )
        assert attached["data"]["case_id"] == case_id

        # Operations see it: ready, and the counters moved.
        assert (await client.get("/readyz")).status_code == 200
        exposition = (await client.get("/metrics")).text
        assert 'casework_outbox_published_total{topic="shouwang.cases.v1"}' in exposition
        assert 'result="dead_lettered"' in exposition
        assert "casework_outbox_lag_seconds" in exposition

        history = (await client.get(f"/v1/cases/{case_id}/history", headers=counselor)).json()
        assert [h["kind"] for h in history].count(
            "severity_changed"
        ) == 1  # the redelivery did nothing


async def test_kill_9_before_the_relay_loses_no_event(
    service_process: Any, devstack_env: dict[str, str], kafka_bootstrap: str
) -> None:
    proc = await start_casework(
        service_process, devstack_env, kafka_bootstrap, CASEWORK_RELAY_ENABLED="false"
    )
    secret, pseudonyms = keys(devstack_env)
    campus = f"campus-{uuid.uuid4().hex[:8]}"
    student = pseudonyms.student_ref(campus, STUDENT_NO)
    center = token(secret, campus, CENTER, Role.COUNSELING_CENTER)
    dsn = proc.env["CASEWORK_DATABASE_URL"]
    async with (
        httpx.AsyncClient(base_url=proc.base_url, timeout=10) as client,
        TopicReader(kafka_bootstrap, CASES) as cases_topic,
    ):
        await import_roster(client, campus, secret)
        w = warning(campus, student, Severity.SEVERE, Role.COUNSELING_CENTER)
        await publish(kafka_bootstrap, w.assessment, w.alert)
        items = await wait_for(lambda: alert_landed(client, center), within=120)
        assert items, proc.log_text()[-3000:]
        case_id = items[0]["case_id"]
        ack = await client.post(
            f"/v1/alerts/{w.alert.data.alert_id}/acknowledgement", headers=center
        )
        assert ack.status_code == 200, ack.text
        moved = await client.post(
            f"/v1/cases/{case_id}/transitions",
            json={"to_state": "intervention", "action_taken": "危机干预，24小时陪护"},
            headers=center,
        )
        assert moved.status_code == 200, moved.text

        # The state changes are committed, their events wait in the outbox: now kill -9.
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("SELECT set_config('shouwang.campus_id', $1, false)", campus)
            rows = await conn.fetch(
                "SELECT event_id::text AS event_id, key, published_at FROM outbox "
                "WHERE topic = $1 ORDER BY id",
                CASES,
            )
        finally:
            await conn.close()
        expected = [r["event_id"] for r in rows]
        assert expected
        assert all(r["published_at"] is None for r in rows)
        proc.kill()

        proc.env["CASEWORK_RELAY_ENABLED"] = "true"
        await proc.restart_async(within=90)
        records = await cases_topic.read_until(
            lambda rs: set(expected) <= {json.loads(r.value)["id"] for r in rs}, within=60
        )
        log = proc.log_text()[-3000:]
    seen = [
        json.loads(r.value)["id"] for r in records if json.loads(r.value)["campus_id"] == campus
    ]
    assert set(seen) == set(expected), log  # nothing lost, nothing foreign
    # Deduplicated by id: each once, and the student's case events in order (the roster's
    # staff.listing_changed are keyed by person, so on other partitions, in no order to them).
    case_events = [r["event_id"] for r in rows if bytes(r["key"]) == f"{campus}:{student}".encode()]
    assert len(case_events) > 1
    assert [i for i in dict.fromkeys(seen) if i in case_events] == case_events


async def test_a_database_outage_holds_the_offset_until_the_case_is_stored(
    service_process: Any,
    devstack_env: dict[str, str],
    kafka_bootstrap: str,
    local_postgres: Any,
) -> None:
    proc = await start_casework(service_process, devstack_env, kafka_bootstrap)
    secret, pseudonyms = keys(devstack_env)
    campus = f"campus-{uuid.uuid4().hex[:8]}"
    student = pseudonyms.student_ref(campus, STUDENT_NO)
    counselor = token(secret, campus, COUNSELOR_8, Role.RESIDENCE_COUNSELOR)
    async with httpx.AsyncClient(base_url=proc.base_url, timeout=10) as client:
        await import_roster(client, campus, secret)
        local_postgres.stop()
        try:
            w = warning(campus, student, Severity.MODERATE, Role.RESIDENCE_COUNSELOR)
            await publish(kafka_bootstrap, w.assessment, w.alert)

            async def met_the_outage() -> bool:  # and rewound, not skipped
                return 'result="retried"' in (await client.get("/metrics")).text

            # The groups may join seconds after the process is ready: wait for the retry itself,
            # not a fixed time (the records handled after the restart would retry nothing).
            assert await wait_for(met_the_outage, within=120), proc.log_text()[-3000:]
            assert (await client.get("/readyz")).status_code == 503
            down = await client.get("/v1/cases", headers=counselor)
            assert (down.status_code, down.json()["code"]) == (503, "database_unavailable")
        finally:
            await asyncio.to_thread(local_postgres.start)
        items = await wait_for(lambda: alert_landed(client, counselor), within=120)
        assert len(items) == 1, proc.log_text()[-3000:]
        assert items[0]["severity"] == "moderate"
        assert items[0]["unacknowledged_alerts"] == 1
