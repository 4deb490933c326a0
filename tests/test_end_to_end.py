"""The platform end to end: a dorm report becomes a graded alert, an owned case, an
acknowledgement that stops escalation, and a reporter who hears it is being handled.

Intake, triage and casework run as real processes on the session's real Kafka and
PostgreSQL; the roster is the shared sample export, imported over casework's HTTP API.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer
from shouwang_contracts.auth import mint_token
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_contracts.topics import ALERTS, CASES
from shouwang_contracts.vocabulary import Role
from shouwang_devstack.fresh_groups import start_fresh_groups
from shouwang_devstack.topics import assign_at_end

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
STUDENT_NO = "2024020001"  # 8号楼 room 202 in the sample roster
# Who holds each role for 8号楼 in roster_staff.csv.
HOLDER = {
    Role.RESIDENCE_COUNSELOR: "T1002",
    Role.COMMUNITY_PSYCH_TEACHER: "T2001",
    Role.COUNSELING_CENTER: "T3001",
    Role.COLLEGE_LEADER: "T4001",
}


class Watcher:
    """Reads a topic from its current end, for records about one student."""

    def __init__(self, bootstrap: str, topic: str, key: bytes) -> None:
        self.topic = topic
        self.key = key
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self.seen: list[dict[str, Any]] = []

    async def __aenter__(self) -> Watcher:
        await self.consumer.start()
        await assign_at_end(self.consumer, self.topic)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()

    async def first(self, event_type: str, within: float = 180.0) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while loop.time() < deadline:
            for event in self.seen:
                if event["type"] == event_type:
                    return event
            batch = await self.consumer.getmany(timeout_ms=300)
            self.seen += [
                json.loads(r.value) for rs in batch.values() for r in rs if r.key == self.key
            ]
        raise AssertionError(
            f"no {event_type} on {self.topic}; saw {[e['type'] for e in self.seen]}"
        )


async def eventually(check: Callable[[], Awaitable[Any]], within: float = 180.0) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        value = await check()
        if value or loop.time() > deadline:
            return value
        await asyncio.sleep(0.3)


async def test_a_report_is_graded_owned_acknowledged_and_fed_back(
    service_process: Any, devstack_env: dict[str, str], kafka_bootstrap: str
) -> None:
    campus = "e2e"
    secret = devstack_env["SHOUWANG_JWT_SECRET"]

    def bearer(role: Role, sub: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {mint_token(secret, sub=sub, role=role, campus_id=campus)}"
        }

    # Groups of their own at the topics' end: not through what earlier tests left first.
    groups = await start_fresh_groups(kafka_bootstrap, ("intake", "triage", "casework"))
    intake = service_process("intake", groups["intake"])
    triage = service_process("triage", groups["triage"])
    casework = service_process(
        "casework", {**groups["casework"], "CASEWORK_CAMPUSES": json.dumps([campus])}
    )
    await asyncio.gather(intake.start_async(), triage.start_async(), casework.start_async())

    student_ref = Pseudonymizer(devstack_env["SHOUWANG_PSEUDONYM_KEY"].encode()).student_ref(
        campus, STUDENT_NO
    )
    key = f"{campus}:{student_ref}".encode()
    async with (
        httpx.AsyncClient(timeout=30) as http,
        Watcher(kafka_bootstrap, ALERTS, key) as alerts,
        Watcher(kafka_bootstrap, CASES, key) as cases,
    ):
        admin = bearer(Role.CAMPUS_ADMIN, "A001")
        for kind, name in (("students", "roster_students.csv"), ("staff", "roster_staff.csv")):
            imported = await http.post(
                f"{casework.base_url}/v1/roster/{kind}",
                files={"file": (name, (SAMPLES / name).read_bytes(), "text/csv")},
                headers=admin,
            )
            assert imported.status_code == 200, imported.text

        # A floor leader reports a plan together with giving things away: a red flag.
        reporter = bearer(Role.FLOOR_LEADER, "2024030002")
        report = await http.post(
            f"{intake.base_url}/v1/reports",
            json={
                "campus_id": campus,
                "student_no": STUDENT_NO,
                "signals": ["suicide_plan", "giving_away_possessions"],
                "observed_at": (datetime.now(UTC) - timedelta(minutes=20)).isoformat(),
                "note": "他说已经想好了怎么做，还把电脑送人了",
                "location": "8号楼202",
            },
            headers={**reporter, "Idempotency-Key": "e2e-report-0001"},
        )
        assert report.status_code == 202, report.text
        report_id = report.json()["id"]

        raised = await alerts.first("shouwang.alert.raised")
        assert raised["data"]["severity"] == "critical"
        owner_role = Role(raised["data"]["owner_role"])
        deadline = datetime.fromisoformat(raised["data"]["ack_deadline"])
        assert deadline - datetime.fromisoformat(raised["data"]["raised_at"]) <= timedelta(
            minutes=15
        )
        assert "他说" not in json.dumps(raised, ensure_ascii=False)

        # Casework opens one case, owned by whoever holds that role for 8号楼.
        opened = await cases.first("shouwang.case.opened")
        if report_id not in opened["data"]["report_ids"]:  # the alert got there first
            attached = await cases.first("shouwang.case.reports_attached")
            assert report_id in attached["data"]["report_ids"]
        owner = bearer(owner_role, HOLDER[owner_role])

        async def queue() -> list[dict[str, Any]]:
            page = await http.get(f"{casework.base_url}/v1/cases", headers=owner)
            items = page.json()["items"] if page.status_code == 200 else []
            return [i for i in items if i["unacknowledged_alerts"]]

        items = await eventually(queue)
        assert [i["student_ref"] for i in items] == [student_ref]
        assert items[0]["severity"] == "critical"
        pseudonyms = Pseudonymizer(devstack_env["SHOUWANG_PSEUDONYM_KEY"].encode())
        case = (
            await http.get(f"{casework.base_url}/v1/cases/{items[0]['case_id']}", headers=owner)
        ).json()
        assert case["owner_role"] == owner_role.value
        assert case["owner_ref"] == pseudonyms.person_ref(campus, HOLDER[owner_role])

        # The counselor of 7号楼 sees nothing of it.
        other = await http.get(
            f"{casework.base_url}/v1/cases", headers=bearer(Role.RESIDENCE_COUNSELOR, "T1001")
        )
        assert other.status_code == 200
        assert other.json()["items"] == []

        # The owner acknowledges: triage hears it and stops escalating.
        ack = await http.post(
            f"{casework.base_url}/v1/alerts/{raised['data']['alert_id']}/acknowledgement",
            headers=owner,
        )
        assert ack.status_code == 200, ack.text
        await cases.first("shouwang.alert.acknowledged")

        async def triage_saw_ack() -> bool:
            text = (await http.get(f"{triage.base_url}/metrics")).text
            return any(
                line.startswith("triage_alerts_acknowledged") and not line.endswith(" 0.0")
                for line in text.splitlines()
            )

        assert await eventually(triage_saw_ack)

        # The reporter learns that much, and nothing more.
        async def receipt_status() -> str | None:
            body = (
                await http.get(f"{intake.base_url}/v1/reports/{report_id}", headers=reporter)
            ).json()
            return body["status"] if body["status"] == "in_progress" else None

        assert await eventually(receipt_status) == "in_progress"
