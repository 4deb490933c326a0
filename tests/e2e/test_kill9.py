"""`kill -9` of each service in turn while 2,000 reports and a census stream in: after each
restart the platform carries on, and end to end nothing is lost and nothing doubled. The same
with SIGTERM (500 reports): each service exits 0 and loses and doubles nothing either.

Every service runs as its own process on the session's Kafka and PostgreSQL, on consumer
groups of the test's own that start at the topics' end (`start_fresh_groups`: what earlier
tests left there is not this test's to work through), kept across each restart; notify's
channels point at the local sinks. Reporters retry with their Idempotency-Key whatever went
wrong (a refused connection while intake is dead, a 503), as a real client does. Then, read
straight from Kafka: every accepted report is graded, each exactly once (one assessment per
report and student); every census row that was accepted is graded once; no alert and no
student has two cases; no message went out twice under two notifications, and the sinks hold
no more messages than notify says it delivered.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_support import Ledger, Phases, Stream, census_today, headers, load_campus, new_campus
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_contracts.vocabulary import Role
from shouwang_devstack.diagnosis import diagnose_processes, last_lines
from shouwang_devstack.fresh_groups import start_fresh_groups
from shouwang_devstack.services import ServiceProcess, present_services
from shouwang_devstack.sinks import LocalSinks
from shouwang_servicekit.kafka.consumers import SESSION_TIMEOUT_ENV

pytestmark = pytest.mark.integration

REPORTS = 2000
#: Every consumer's group session at the broker's floor (6 s, not aiokafka's 10 s): a killed
#: service's groups give its partitions to the restarted one that much sooner. Test-only.
GROUP_TIMING = {SESSION_TIMEOUT_ENV: "6000"}


def _sink_messages(data: Path) -> int:
    mails = len(list((data / "mail").glob("*.eml")))
    lines = sum(
        len(path.read_text("utf-8").splitlines()) for path in (data / "webhooks").glob("*.jsonl")
    )
    return mails + lines


def _why(procs: dict[str, ServiceProcess], bootstrap: str, *context: object) -> str:
    """A failed check's context, then what the platform says about it: each service's last
    warnings and errors from its log, the dead letters, the consumers that fell behind (read
    only when the check failed)."""
    said = "\n".join(map(str, context))
    return f"{said}\n{diagnose_processes(procs, bootstrap)}"


@pytest.mark.timeout(900)
async def test_kill_9_of_each_service_in_turn_loses_and_doubles_nothing(
    service_process: Any, devstack_env: dict[str, str], kafka_bootstrap: str, tmp_path: Path
) -> None:
    await _each_service_stopped_in_turn(
        service_process, devstack_env, kafka_bootstrap, tmp_path, how="kill", reports=REPORTS
    )


@pytest.mark.timeout(900)
async def test_sigterm_of_each_service_in_turn_finishes_in_flight_work_and_exits_cleanly(
    service_process: Any, devstack_env: dict[str, str], kafka_bootstrap: str, tmp_path: Path
) -> None:
    """Graceful shutdown: SIGTERM stops taking work, finishes and commits what is in flight, and
    the process exits on its own within 25 s, before the 30 s the deploys give it
    (`terminationGracePeriodSeconds`) after which it would be killed. A quiet machine takes
    a few seconds; a run on two cores at load 14 saw triage take past 15."""
    await _each_service_stopped_in_turn(
        service_process, devstack_env, kafka_bootstrap, tmp_path, how="term", reports=REPORTS // 4
    )


async def _each_service_stopped_in_turn(
    service_process: Any,
    devstack_env: dict[str, str],
    kafka_bootstrap: str,
    tmp_path: Path,
    *,
    how: str,
    reports: int,
) -> None:
    campus = new_campus("k9" if how == "kill" else "tm")
    phases = Phases()
    secret = devstack_env["SHOUWANG_JWT_SECRET"]
    sinks = LocalSinks(tmp_path).start()
    try:
        names = [i.name for i in present_services() if i.name != "gateway"]
        groups = await start_fresh_groups(kafka_bootstrap, names)
        extra: dict[str, dict[str, str]] = {
            # One reporter sending thousands is a durability test, not a campus: no hourly cap.
            "intake": {
                "INTAKE_REPORTS_PER_REPORTER_PER_HOUR": "1000000000",
                "SHOUWANG_PER_PERSON_PER_MINUTE": "0",
            },
            "casework": {"CASEWORK_CAMPUSES": json.dumps([campus])},
            "notify": {**sinks.notify_env(), "NOTIFY_PUBLIC_BASE_URL": "https://shouwang.test"},
            # A fresh stats database would replay every topic from its beginning (other tests'
            # records) on each start until one replay finished; nothing here reads stats, so
            # its live consumers alone, on their fresh groups, are what is killed.
            "stats": {"STATS_REBUILD_ON_START": "false"},
        }
        procs: dict[str, ServiceProcess] = {
            name: service_process(name, {**groups[name], **GROUP_TIMING, **extra.get(name, {})})
            for name in names
        }
        await asyncio.gather(*(p.start_async(90) for p in procs.values()))
        phases.done("services up")
        killed: list[tuple[str, int]] = []

        def why(*context: object) -> str:
            return _why(
                procs, kafka_bootstrap, f"stopped (service, reports sent): {killed}", *context
            )

        admin = headers(secret, campus, Role.CAMPUS_ADMIN, "A0001")
        async with httpx.AsyncClient(timeout=30) as http, Ledger(kafka_bootstrap, campus) as ledger:
            await load_campus(http, procs["casework"].base_url, procs["notify"].base_url, admin)
            census = await http.post(
                f"{procs['intake'].base_url}/v1/screenings/bulk",
                files={"file": ("census.csv", census_today(), "text/csv")},
                headers=headers(secret, campus, Role.COUNSELING_CENTER, "T3001"),
            )
            assert census.status_code == 202, census.text
            batch = census.json()["batch_id"]
            phases.done("campus loaded, census sent")

            stream = Stream(lambda: procs["intake"].base_url, secret, campus, total=reports)
            # Failure bounds, not timings: alone on a quiet machine the whole kill -9 test takes
            # about 90 s (stream, restarts and settling); CI's loaded two cores are slower.
            streaming = asyncio.create_task(stream.run(within=480))
            for index, name in enumerate(names):
                # Spread the kills over the stream: each one lands while reports flow.
                mark = reports * (index + 1) // (len(names) + 1)
                while stream.sent < mark and not streaming.done():
                    await ledger.read(0.2)
                if how == "kill":
                    procs[name].kill()
                else:
                    code = await procs[name].stop_async(within=25)
                    # uvicorn re-raises the signal once shut down, so a clean exit reads -15;
                    # a process that had to be killed after 25 s reads -9.
                    assert code in (0, -signal.SIGTERM), (
                        f"{name} exited {code} on SIGTERM (-9: still running after 25 s); "
                        f"its last lines:\n{last_lines(procs[name])}"
                    )
                    assert "Application shutdown complete" in procs[name].log_text(), (
                        f"{name} did not say its shutdown was complete; its last lines:\n"
                        f"{last_lines(procs[name])}"
                    )
                killed.append((name, stream.sent))
                await ledger.read(1.0)
                await procs[name].start_async(90)
                phases.done(f"{name} stopped ({how}) and back")
            await streaming
            phases.done("stream done")
            assert len(stream.accepted) == reports, why(stream.answers)
            assert stream.answers[500] == 0, why(stream.answers)

            done_census = (
                await http.get(
                    f"{procs['intake'].base_url}/v1/screenings/bulk/{batch}",
                    headers=headers(secret, campus, Role.COUNSELING_CENTER, "T3001"),
                )
            ).json()
            census_rows = done_census["rows_accepted"]

            pseudonyms = Pseudonymizer(devstack_env["SHOUWANG_PSEUDONYM_KEY"].encode())
            expected = Counter(pseudonyms.student_ref(campus, s) for s in stream.accepted.values())

            def complete() -> bool:
                per_student = ledger.assessments_per_student("report")
                return (
                    all(len(per_student[ref]) >= n for ref, n in expected.items())
                    and sum(map(len, ledger.assessments_per_student("screening").values()))
                    >= census_rows
                )

            await ledger.settle(complete, within=300, why=why)
            phases.done("every report and census row graded, then quiet")

        # Nothing lost: every accepted report graded, every accepted census row graded.
        ungraded = set(stream.accepted) - ledger.graded_reports()
        assert not ungraded, why(f"{len(ungraded)} accepted reports never graded", ledger.summary())
        # Nothing doubled: one assessment per report, per census row.
        per_student = ledger.assessments_per_student("report")
        doubled = {ref: len(per_student[ref]) - n for ref, n in expected.items()}
        assert {ref: d for ref, d in doubled.items() if d} == {}, why("reports graded twice")
        screenings = sum(map(len, ledger.assessments_per_student("screening").values()))
        assert screenings == census_rows, why(f"{screenings} of {census_rows} census rows graded")
        # At most one case per alert and per student; one delivery per message.
        assert ledger.of("alert.raised"), why(ledger.summary())
        assert ledger.doubled_cases() == {}, why(ledger.doubled_cases())
        assert ledger.delivered(), why(ledger.summary())
        assert ledger.doubled_messages() == {}, why(ledger.doubled_messages())
        assert _sink_messages(tmp_path) <= len(ledger.delivered()), why(ledger.summary())
        for name, proc in procs.items():
            assert proc.is_running(), f"{name} is down; its last lines:\n{last_lines(proc)}"
    finally:
        sinks.stop()
