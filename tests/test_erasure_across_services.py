"""An erasure on request (PIPL Art. 47) reaches every service that holds the student.

Intake, triage, casework and notify run as real processes on the session's real Kafka and
PostgreSQL. Two students are reported (a mild concern: graded, a case opened to watch, closed
again); their family contacts are on file. The counseling center carries out one student's
written request at casework; casework announces `student.erased` through its outbox, and intake's receipts,
triage's evidence and grade and notify's family contacts of the student end, while another
student's stay. (docs/retention.md, "Erasure on request".)
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from shouwang_contracts.auth import mint_token
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_contracts.vocabulary import Role
from shouwang_devstack.fresh_groups import start_fresh_groups

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
STUDENT_NO, OTHER_NO = "2024020001", "2024010003"  # both have family contacts on file
CENTER = "T3001"  # the counseling center in roster_staff.csv


async def eventually(check: Callable[[], Awaitable[bool]], what: str, within: float = 180) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        assert loop.time() < deadline, f"not within {within} s: {what}"
        await asyncio.sleep(0.3)


async def count(dsn: str, sql: str, *args: Any) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        # Notify's tables are row-level secured per campus; its workers read them all so.
        await conn.execute("SELECT set_config('shouwang.all_campuses', 'on', false)")
        return int(await conn.fetchval(sql, *args))
    finally:
        await conn.close()


async def test_an_erasure_request_ends_the_students_data_in_every_service(
    service_process: Any, devstack_env: dict[str, str], kafka_bootstrap: str
) -> None:
    campus = f"era{uuid.uuid4().hex[:6]}"
    secret = devstack_env["SHOUWANG_JWT_SECRET"]
    pseudonyms = Pseudonymizer(devstack_env["SHOUWANG_PSEUDONYM_KEY"].encode())
    student, other = (pseudonyms.student_ref(campus, no) for no in (STUDENT_NO, OTHER_NO))

    def bearer(role: Role, sub: str) -> dict[str, str]:
        token = mint_token(secret, sub=sub, role=role, campus_id=campus)
        return {"Authorization": f"Bearer {token}"}

    # Groups of their own at the topics' end: not through what earlier tests left first.
    groups = await start_fresh_groups(kafka_bootstrap, ("intake", "triage", "casework", "notify"))
    intake = service_process("intake", groups["intake"])
    triage = service_process("triage", groups["triage"])
    casework = service_process(
        "casework", {**groups["casework"], "CASEWORK_CAMPUSES": json.dumps([campus])}
    )
    notify = service_process("notify", groups["notify"])
    await asyncio.gather(*(s.start_async() for s in (intake, triage, casework, notify)))
    db = {s.name: s.env[f"{s.name.upper()}_DATABASE_URL"] for s in (intake, triage, notify)}
    admin = bearer(Role.CAMPUS_ADMIN, "A001")
    reporter = bearer(Role.RESIDENCE_COUNSELOR, "T1002")

    async with httpx.AsyncClient(timeout=30) as http:
        for base, path, name, ok in (
            (casework.base_url, "/v1/roster/students", "roster_students.csv", 200),
            (casework.base_url, "/v1/roster/staff", "roster_staff.csv", 200),
            (notify.base_url, "/v1/imports/family-contacts", "contacts_family.csv", 201),
        ):
            answer = await http.post(
                base + path,
                files={"file": (name, (SAMPLES / name).read_bytes(), "text/csv")},
                headers=admin,
            )
            assert answer.status_code == ok, answer.text
        report_ids = []
        for student_no in (STUDENT_NO, OTHER_NO):
            report = await http.post(
                f"{intake.base_url}/v1/reports",
                json={
                    "campus_id": campus,
                    "student_no": student_no,
                    "signals": ["academic_decline"],
                    "observed_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
                },
                headers=reporter,
            )
            assert report.status_code == 202, report.text
            report_ids.append(report.json()["id"])

        async def held(service: str, table: str, ref: str) -> int:
            return await count(
                db[service],
                f"SELECT count(*) FROM {table} WHERE campus_id = $1 AND student_ref = $2",  # noqa: S608
                campus,
                ref,
            )

        async def triage_graded_both() -> bool:
            return all([await held("triage", "grades", s) for s in (student, other)])

        await eventually(triage_graded_both, "triage graded both reports")
        for ref in (student, other):
            assert await held("triage", "evidence", ref) == 1
            assert await held("intake", "receipts", ref) == 1
            assert await held("notify", "family_contacts", ref) >= 1

        # A concern opens a case (monitoring); the erasure waits for it to close.
        center = bearer(Role.COUNSELING_CENTER, CENTER)

        async def case_of_student() -> bool:
            listed = await http.get(f"{casework.base_url}/v1/cases", headers=center)
            cases[:] = [i for i in listed.json()["items"] if i["student_ref"] == student]
            return bool(cases)

        cases: list[dict[str, Any]] = []
        await eventually(case_of_student, "casework opened the student's case")
        [case] = cases
        path = ["monitoring", "follow_up", "closed"]
        for state in path[path.index(case["state"]) + 1 if case["state"] in path else 0 :]:
            moved = await http.post(
                f"{casework.base_url}/v1/cases/{case['case_id']}/transitions",
                json={"to_state": state, **({"outcome": "stable"} if state == "closed" else {})},
                headers=center,
            )
            assert moved.status_code == 200, moved.text

        erased = await http.post(
            f"{casework.base_url}/v1/students/{student}/erasure",
            json={"request_ref": "PIPL-2026-0099"},
            headers=center,
        )
        assert erased.status_code == 200, erased.text

        async def gone_everywhere() -> bool:
            held_now = [
                await held("intake", "receipts", student),
                await held("triage", "evidence", student),
                await held("triage", "grades", student),
                await held("notify", "family_contacts", student),
            ]
            return held_now == [0, 0, 0, 0]

        await eventually(gone_everywhere, "intake, triage and notify erased the student")
        receipt = await http.get(f"{intake.base_url}/v1/reports/{report_ids[0]}", headers=reporter)
        assert receipt.status_code == 404
        # The other student is untouched everywhere.
        for service, table in (
            ("intake", "receipts"),
            ("triage", "evidence"),
            ("triage", "grades"),
            ("notify", "family_contacts"),
        ):
            assert await held(service, table, other) >= 1, (service, table)
        # Each service says what it erased, in counts: never the student's reference.
        for service in (intake, triage, notify):
            lines = [line for line in service.log_text().splitlines() if "erasure" in line]
            assert any("applied for campus" in line for line in lines), service.name
            assert not any(student in line for line in lines), service.name
