"""Records in the real casework process, on real Kafka and PostgreSQL.

The roster is imported over HTTP; the process's own relay publishes the directory entries;
a report intake would publish reaches the file through the process's consumers; the
counselor of the student's building reads it with the note opened, and the read is audited.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from shouwang_contracts.auth import mint_token
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events.intake import ReportSubmitted
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_contracts.topics import DIRECTORY
from shouwang_contracts.vocabulary import Role, Signal
from shouwang_devstack.fresh_groups import start_fresh_groups

pytestmark = pytest.mark.integration

SAMPLES = Path(__file__).resolve().parents[4] / "samples"
T = TypeVar("T")


async def eventually(probe: Callable[[], Awaitable[T | None]], within: float = 60) -> T:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while (value := await probe()) is None:
        assert loop.time() < deadline, "not within the time allowed"
        await asyncio.sleep(0.3)
    return value


async def directory_entries(bootstrap: str, key: bytes, wanted: int) -> list[dict[str, Any]]:
    """The directory entries under `key`, read from the beginning until `wanted` arrived."""
    consumer = AIOKafkaConsumer(
        DIRECTORY, bootstrap_servers=bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        found: list[dict[str, Any]] = []
        async with asyncio.timeout(60):
            while len(found) < wanted:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    found += [json.loads(r.value) for r in records if r.key == key]
        return found
    finally:
        await consumer.stop()


async def test_roster_to_directory_and_report_to_an_audited_file_in_the_real_process(
    service_process: Any, devstack_env: dict[str, str], kafka_bootstrap: str
) -> None:
    # Groups of its own at the topics' end, the file's too: the default ones would first work
    # through every report earlier tests published before reaching this one.
    groups = await start_fresh_groups(kafka_bootstrap, ("casework",))
    proc = service_process("casework", env=groups["casework"])
    await proc.start_async(within=90)
    secret = devstack_env["SHOUWANG_JWT_SECRET"]
    pseudonyms = Pseudonymizer(devstack_env["SHOUWANG_PSEUDONYM_KEY"].encode())
    cipher = NoteCipher.from_config(devstack_env["SHOUWANG_NOTE_KEYS"])
    campus = f"campus-{uuid.uuid4().hex[:8]}"
    student_ref = pseudonyms.student_ref(campus, "2024020001")

    def bearer(sub: str, role: Role) -> dict[str, str]:
        return {
            "Authorization": "Bearer " + mint_token(secret, sub=sub, role=role, campus_id=campus)
        }

    async with httpx.AsyncClient(base_url=proc.base_url, timeout=30) as client:
        for kind, name in (("students", "roster_students.csv"), ("staff", "roster_staff.csv")):
            response = await client.post(
                f"/v1/roster/{kind}",
                files={"file": (name, (SAMPLES / name).read_bytes(), "text/csv")},
                headers=bearer("A001", Role.CAMPUS_ADMIN),
            )
            assert response.status_code == 200, response.text + proc.log_text()[-2000:]

        entries = await directory_entries(kafka_bootstrap, f"{campus}:{student_ref}".encode(), 2)
        latest = entries[-1]["data"]
        assert len(latest["placement_refs"]) == 4  # class, building, floor, room: hashed
        assert "8号楼" not in json.dumps(entries, ensure_ascii=False)
        assert {r["role"] for r in latest["responsible"]} >= {"residence_counselor", "dorm_leader"}
        assert "测试" not in json.dumps(entries, ensure_ascii=False)

        now = datetime.now(UTC)
        report = Envelope.wrap(
            ReportSubmitted(
                report_id=str(uuid.uuid4()),
                student_ref=student_ref,
                reporter_ref=pseudonyms.person_ref(campus, "2024020001"),
                reporter_role=Role.DORM_LEADER,
                signals=[Signal.SELF_HARM_TALK],
                observed_at=now,
                received_at=now,
                note=cipher.seal("他说活着没意思", campus_id=campus, student_ref=student_ref),
            ),
            source="/shouwang/intake",
            campus_id=campus,
            subject=student_ref,
        )
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(
                report.topic,
                report.to_bytes(),
                key=report.key,
                headers=report.kafka_headers(),
            )
        finally:
            await producer.stop()

        counselor = bearer("T1002", Role.RESIDENCE_COUNSELOR)

        async def file_with_report() -> dict[str, Any] | None:
            response = await client.get(f"/v1/students/{student_ref}/file", headers=counselor)
            assert response.status_code == 200, response.text
            return response.json() if response.json()["reports"] else None

        file = await eventually(file_with_report)
        assert file["reports"][0]["report_id"] == report.data.report_id
        assert file["reports"][0]["note"] == "他说活着没意思"

        log = await client.get(
            "/v1/audit",
            params={"student_no": "2024020001", "staff_no": "T1002"},
            headers=bearer("AU01", Role.AUDITOR),
        )
        assert log.status_code == 200
        assert {i["action"] for i in log.json()["items"]} == {"file.read"}
