"""A three-broker KRaft cluster on loopback (replication 3, `min.insync.replicas` 2), as
`shouwang-dev up --brokers 3` runs it:

1. `kill -9` of one broker during a stream of 2,000 reports loses and doubles nothing;
2. with two brokers down, intake answers 503 (with Retry-After) and never a false 202;
3. when they return, the platform catches up without restarting any service: the reports sent
   again are accepted and, with everything before, graded exactly once.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_support import Ledger, Phases, Stream, headers, load_campus, new_campus
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_contracts.vocabulary import Role
from shouwang_devstack.diagnosis import diagnose_processes
from shouwang_devstack.kafka_cluster import LocalKafkaCluster
from shouwang_devstack.services import ServiceProcess
from shouwang_devstack.sinks import LocalSinks
from shouwang_devstack.topics import create_topics

pytestmark = pytest.mark.integration

REPORTS = 2000
WHILE_DOWN = 20
LANES = 2
#: Seconds intake waits for Kafka's acknowledgement before its 503. With two brokers down
#: every request waits all of it, so step 2 lasts WHILE_DOWN / LANES times this: 25 s, past
#: the 20 s of failures after which intake recreates its producer (and no longer: 3 s made
#: it 30 s).
PUBLISH_TIMEOUT = 2.5


@pytest.mark.timeout(900)
async def test_three_brokers_lose_one_then_two_and_the_platform_catches_up(
    service_process: Any, devstack_env: dict[str, str], tmp_path: Path
) -> None:
    cluster = LocalKafkaCluster(tmp_path / "kafka", size=3, die_with_parent=True)
    sinks = LocalSinks(tmp_path / "sinks").start()
    campus = new_campus("kr")
    secret = devstack_env["SHOUWANG_JWT_SECRET"]
    phases = Phases()
    try:
        await cluster.start_async()
        await create_topics(cluster.bootstrap, cluster.specs)
        phases.done("cluster up, topics created")
        kafka = {"KAFKA_BOOTSTRAP_SERVERS": cluster.bootstrap}
        extra = {
            # One reporter sending thousands is a durability test, not a campus: no hourly cap.
            "intake": {
                **kafka,
                "INTAKE_PUBLISH_TIMEOUT_SECONDS": str(PUBLISH_TIMEOUT),
                "INTAKE_REPORTS_PER_REPORTER_PER_HOUR": "1000000000",
                "SHOUWANG_PER_PERSON_PER_MINUTE": "0",
            },
            "triage": kafka,
            "casework": {**kafka, "CASEWORK_CAMPUSES": json.dumps([campus])},
            "notify": {**kafka, **sinks.notify_env()},
        }
        procs: dict[str, ServiceProcess] = {
            name: service_process(name, env) for name, env in extra.items()
        }
        await asyncio.gather(*(p.start_async(120) for p in procs.values()))
        pids = {name: p.pid for name, p in procs.items()}
        phases.done("services up")

        def why(*context: object) -> str:
            """A failed check's context, each service's last warnings and errors from its
            log, the dead letters and the consumers behind (read only when a check failed)."""
            down = [n for n, node in enumerate(cluster.nodes) if not node.is_running()]
            said = "\n".join([f"brokers down: {down}", *map(str, context)])
            return f"{said}\n{diagnose_processes(procs, cluster.bootstrap)}"

        admin = headers(secret, campus, Role.CAMPUS_ADMIN, "A0001")
        async with (
            httpx.AsyncClient(timeout=30) as http,
            Ledger(cluster.bootstrap, campus) as ledger,
        ):
            await load_campus(http, procs["casework"].base_url, procs["notify"].base_url, admin)
            phases.done("campus loaded")

            # 1. One broker dies mid-stream.
            stream = Stream(lambda: procs["intake"].base_url, secret, campus, total=REPORTS)
            streaming = asyncio.create_task(stream.run(within=600))
            while stream.sent < REPORTS // 3 and not streaming.done():
                await ledger.read(0.2)
            cluster.nodes[0].kill()
            await streaming
            assert len(stream.accepted) == REPORTS, why(stream.answers)
            phases.done("stream, one broker killed")

            # 2. Two brokers down: no acknowledgement is possible, so no 202 may be given.
            cluster.nodes[1].kill()
            refused = Counter[int]()
            reporter = headers(secret, campus, Role.DORM_LEADER, "2024020001")
            keys = [f"down-{uuid.uuid4()}" for _ in range(WHILE_DOWN)]
            body = {
                "campus_id": campus,
                "student_no": "2024020001",
                "signals": ["persistent_low_mood"],
                "observed_at": "2026-11-28T21:00:00+08:00",
            }

            async def lane(lane_keys: list[str]) -> None:
                for key in lane_keys:
                    answer = await http.post(
                        f"{procs['intake'].base_url}/v1/reports",
                        json=body,
                        headers={**reporter, "Idempotency-Key": key},
                    )
                    refused[answer.status_code] += 1
                    if answer.status_code == 503:
                        assert answer.headers.get("Retry-After"), answer.headers

            # Each refusal waits out intake's publish timeout. Two lanes of ten halve the wait
            # of one and still ask for 25 s: past the 20 s of failures after which intake
            # recreates its producer, so requests go on meeting the new one too.
            await asyncio.gather(*(lane(keys[n::LANES]) for n in range(LANES)))
            assert refused == {503: WHILE_DOWN}, why(refused)
            phases.done("two brokers down, every report refused")

            # 3. They return; the same reports, sent again, are accepted; nothing restarted.
            await asyncio.gather(cluster.nodes[0].start_async(), cluster.nodes[1].start_async())
            phases.done("two brokers back")
            late: dict[str, str] = {}
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 180
            for key in keys:
                while True:
                    assert loop.time() < deadline, why(f"never accepted again: {refused}")
                    answer = await http.post(
                        f"{procs['intake'].base_url}/v1/reports",
                        json=body,
                        headers={**reporter, "Idempotency-Key": key},
                    )
                    if answer.status_code in (200, 202):
                        late[answer.json()["id"]] = "2024020001"
                        break
                    assert answer.status_code == 503, why(answer.status_code, answer.text)
                    await asyncio.sleep(1)
            accepted = {**stream.accepted, **late}
            assert len(accepted) == REPORTS + WHILE_DOWN
            phases.done("the refused reports accepted")

            pseudonyms = Pseudonymizer(devstack_env["SHOUWANG_PSEUDONYM_KEY"].encode())
            expected = Counter(pseudonyms.student_ref(campus, s) for s in accepted.values())

            def complete() -> bool:
                per_student = ledger.assessments_per_student("report")
                return all(len(per_student[ref]) >= n for ref, n in expected.items())

            await ledger.settle(complete, within=420, why=why)
            phases.done("every report graded, then quiet")

        ungraded = set(accepted) - ledger.graded_reports()
        assert not ungraded, why(f"{len(ungraded)} accepted reports never graded", ledger.summary())
        per_student = ledger.assessments_per_student("report")
        doubled = {ref: len(per_student[ref]) - n for ref, n in expected.items()}
        assert {ref: d for ref, d in doubled.items() if d} == {}, why("reports graded twice")
        assert ledger.doubled_cases() == {}, why(ledger.doubled_cases())
        assert ledger.doubled_messages() == {}, why(ledger.doubled_messages())
        now = {name: p.pid for name, p in procs.items()}
        assert now == pids, why(f"a service restarted: pids {pids} then {now}")
    finally:
        sinks.stop()
        cluster.discard()  # its data dir goes with tmp_path
