"""Who may call what: every forbidden role and campus is refused, and reporters hear back."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.structs import RecordMetadata
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events import CaseClosed, CaseOpened, CaseReportsAttached
from shouwang_contracts.events.casework import CaseOutcome
from shouwang_contracts.topics import CASES
from shouwang_contracts.vocabulary import Role, Severity
from shouwang_devstack.services import ServiceProcess
from shouwang_devstack.topics import committed_offsets

SAMPLES = Path(__file__).resolve().parents[4] / "samples"
NOW = datetime.now(UTC)
REPORT = {
    "campus_id": "demo",
    "student_no": "2024020004",
    "signals": ["academic_decline"],
    "observed_at": (NOW - timedelta(hours=2)).isoformat(),
}
SCREENING = {
    "campus_id": "demo",
    "student_no": "2024020004",
    "instrument": "gad7",
    "items": [1, 1, 1, 1, 1, 1, 1],
    "administered_at": (NOW - timedelta(hours=2)).isoformat(),
}
REPORTERS = {
    Role.DORM_LEADER,
    Role.FLOOR_LEADER,
    Role.CLASS_WELLBEING_OFFICER,
    Role.RESIDENCE_COUNSELOR,
    Role.COMMUNITY_PSYCH_TEACHER,
    Role.COUNSELING_CENTER,
    Role.COLLEGE_LEADER,
}
SCREENERS = {
    Role.RESIDENCE_COUNSELOR,
    Role.COMMUNITY_PSYCH_TEACHER,
    Role.COUNSELING_CENTER,
    Role.CAMPUS_ADMIN,
}


def _census(number: str) -> dict[str, tuple[str, bytes, str]]:
    """A one-row census file with the sample export's header (another number, another batch)."""
    header = (SAMPLES / "census_phq9.csv").read_text(encoding="utf-8").splitlines()[0]
    row = f"{number},测试学生,2026-09-10 09:30,PHQ-9,{','.join('1' * 9)}"
    return {"file": ("census.csv", f"{header}\n{row}\n".encode(), "text/csv")}


@pytest.mark.parametrize("role", list(Role))
async def test_role_matrix(client: httpx.AsyncClient, token, role: Role) -> None:
    """Every endpoint under /v1, called by every role: allowed ones work, others get 403."""
    headers = token(role, sub=f"user-{role.value}")
    report = await client.post("/v1/reports", json=REPORT, headers=headers)
    assert report.status_code == (202 if role in REPORTERS else 403), report.text
    screening = await client.post("/v1/screenings", json=SCREENING, headers=headers)
    assert screening.status_code == (202 if role in SCREENERS else 403), screening.text
    census = await client.post(
        "/v1/screenings/bulk", files=_census(f"20249{list(Role).index(role):05d}"), headers=headers
    )
    assert census.status_code == (202 if role in SCREENERS else 403), census.text
    if role in SCREENERS:
        batch_id = census.json()["batch_id"]
        own = await client.get(f"/v1/screenings/bulk/{batch_id}", headers=headers)
        assert own.status_code == 200, own.text
    batch = await client.get(f"/v1/screenings/bulk/{uuid.uuid4()}", headers=headers)
    assert batch.status_code == (404 if role in SCREENERS else 403)
    for refused in (report, screening, census, batch):
        if refused.status_code == 403:
            assert refused.json()["code"] == "role_forbidden"

    # Receipts are open to every role, and each shows only its caller's own submissions.
    for path, response in (("/v1/reports", report), ("/v1/screenings", screening)):
        if response.status_code == 202:
            receipt = await client.get(f"{path}/{response.json()['id']}", headers=headers)
            assert receipt.status_code == 200, receipt.text
        unknown = await client.get(f"{path}/{uuid.uuid4()}", headers=headers)
        assert unknown.status_code == 404
        assert unknown.json()["code"] == "receipt_not_found"


@pytest.mark.parametrize("role", [Role.DORM_LEADER, Role.COUNSELING_CENTER, Role.CAMPUS_ADMIN])
async def test_another_campus_is_refused(client: httpx.AsyncClient, token, role: Role) -> None:
    headers = token(role, campus="other-campus")
    for path, body in (("/v1/reports", REPORT), ("/v1/screenings", SCREENING)):
        response = await client.post(path, json=body, headers=headers)
        assert response.status_code == 403
        assert response.json()["code"] in {"campus_forbidden", "role_forbidden"}


async def test_another_campus_cannot_read_a_receipt_or_a_batch(
    client: httpx.AsyncClient, token
) -> None:
    """The same person id under another campus's token finds nothing of this campus."""
    home = token(Role.COUNSELING_CENTER, sub="T4001")
    away = token(Role.COUNSELING_CENTER, sub="T4001", campus="other-campus")
    report = await client.post("/v1/reports", json=REPORT, headers=home)
    screening = await client.post("/v1/screenings", json=SCREENING, headers=home)
    census = await client.post("/v1/screenings/bulk", files=_census("2024988888"), headers=home)
    assert report.status_code == screening.status_code == census.status_code == 202
    for path in (
        f"/v1/reports/{report.json()['id']}",
        f"/v1/screenings/{screening.json()['id']}",
        f"/v1/screenings/bulk/{census.json()['batch_id']}",
    ):
        assert (await client.get(path, headers=home)).status_code == 200, path
        refused = await client.get(path, headers=away)
        assert refused.status_code == 404, (path, refused.text)
        assert refused.json()["code"] in {"receipt_not_found", "batch_not_found"}


async def test_a_counselor_cannot_read_another_screeners_census_batch(
    client: httpx.AsyncClient, token
) -> None:
    """A batch's row numbers and codes are the uploader's to fix and the campus's to review
    (a census lists students of every building): a counselor of another building, or a
    teacher of one, reads another screener's batch no more than a missing one."""
    uploader = token(Role.RESIDENCE_COUNSELOR, sub="T1002", scope=["building:8号楼"])
    census = await client.post("/v1/screenings/bulk", files=_census("2024977777"), headers=uploader)
    assert census.status_code == 202, census.text
    path = f"/v1/screenings/bulk/{census.json()['batch_id']}"
    for stranger in (
        token(Role.RESIDENCE_COUNSELOR, sub="T1003", scope=["building:9号楼"]),
        token(Role.COMMUNITY_PSYCH_TEACHER, sub="T2001", scope=["college:土木建筑工程学院"]),
    ):
        refused = await client.get(path, headers=stranger)
        assert refused.status_code == 404, refused.text
        assert refused.json()["code"] == "batch_not_found"
    for reader in (
        uploader,
        token(Role.COUNSELING_CENTER, sub="T3001"),  # reviews the screening round
        token(Role.CAMPUS_ADMIN, sub="A0001"),
        token(Role.COMMUNITY_PSYCH_TEACHER, sub="T2002", scope=["campus"]),
    ):
        assert (await client.get(path, headers=reader)).status_code == 200


async def test_a_campus_admin_cannot_read_a_students_number_or_answers_in_a_batchs_errors(
    client: httpx.AsyncClient, token, intake: ServiceProcess
) -> None:
    """A campus admin reads every batch of the campus but holds none of its files, nor may
    they see a screening: a row's errors name its row and column, never its 学号 or what a
    screener wrote of C-SSRS Q6's recency. Nor does intake's log hold any of it, or a
    report's student, note or place (a self-referral's and another's)."""
    written = "昨晚在8号楼天台试图跳楼"
    header = "学号,测评时间,量表,第1题,第2题,第3题,第4题,第5题,第6题,第6题时间"
    rows = ["2024031234。,2026-09-10 09:30,C-SSRS,1,1,0,0,0,1,近3个月"]
    rows.append(f"2024035678,2026-09-10 09:30,C-SSRS,1,1,0,0,0,1,{written}")
    file = {"file": ("cssrs.csv", "\n".join([header, *rows, ""]).encode(), "text/csv")}
    offset = intake.log_path.stat().st_size
    screener = token(Role.RESIDENCE_COUNSELOR, sub="T1002", scope=["building:8号楼"])
    census = await client.post("/v1/screenings/bulk", files=file, headers=screener)
    assert census.status_code == 202, census.text
    own = {**REPORT, "student_no": "2024039999", "note": "我想伤害自己", "location": "8号楼202"}
    other = {**REPORT, "student_no": "2024038888", "note": "室友说不想活了"}
    for body in (own, other):
        student = token(Role.DORM_LEADER, sub="2024039999", scope=["room:8号楼/202"])
        sent = await client.post("/v1/reports", json=body, headers=student)
        assert sent.status_code == 202, sent.text

    for language in ("zh-CN", "en"):
        read = await client.get(
            f"/v1/screenings/bulk/{census.json()['batch_id']}",
            headers={**token(Role.CAMPUS_ADMIN, sub="A0001"), "Accept-Language": language},
        )
        assert read.status_code == 200, read.text
        errors = read.json()["errors"]
        assert {(e["row"], e["field"]) for e in errors} == {
            (2, "student_no"),
            (3, "behavior_recency"),
        }
        for secret in ("2024031234", written, "天台"):
            assert secret not in read.text
    with intake.log_path.open("rb") as log:
        log.seek(offset)
        logged = log.read().decode("utf-8", errors="replace")
    for secret in ("2024031234", "2024035678", "2024039999", "2024038888", written, "天台"):
        assert secret not in logged
    for secret in ("我想伤害自己", "室友说不想活了", "8号楼202"):
        assert secret not in logged


async def _committed(bootstrap: str, group: str) -> int:
    """How far `group` has committed on the cases topic, summed over partitions."""
    offsets = await committed_offsets(bootstrap, group)
    return sum(offset for tp, offset in offsets.items() if tp.topic == CASES)


async def test_a_receipt_follows_its_case_without_showing_it(
    client: httpx.AsyncClient, token, kafka_bootstrap: str, intake: ServiceProcess
) -> None:
    group = intake.env["INTAKE_CONSUMER_GROUP"]  # the module's own (conftest)
    committed_before = await _committed(kafka_bootstrap, group)
    headers = token(Role.DORM_LEADER, sub="2024020001")
    response = await client.post("/v1/reports", json=REPORT, headers=headers)
    report_id = response.json()["id"]
    case_id = str(uuid.uuid4())
    ref = "stu_" + "a" * 32
    opened = Envelope.wrap(
        CaseOpened(
            case_id=case_id,
            student_ref=ref,
            severity=Severity.MODERATE,
            owner_ref="per_x",
            owner_role=Role.COMMUNITY_PSYCH_TEACHER,
            report_ids=[report_id],
            opened_at=NOW,
        ),
        source="/shouwang/casework",
        campus_id="demo",
        subject=ref,
    )
    closed = Envelope.wrap(
        CaseClosed(
            case_id=case_id,
            student_ref=ref,
            outcome=CaseOutcome.RELIEVED,
            severity=Severity.MODERATE,
            opened_at=NOW,
            closed_at=NOW,
        ),
        source="/shouwang/casework",
        campus_id="demo",
        subject=ref,
    )
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    loop = asyncio.get_running_loop()
    try:

        async def send(envelope: Envelope) -> RecordMetadata:  # type: ignore[type-arg]
            return await producer.send_and_wait(
                envelope.topic,
                envelope.to_bytes(),
                key=envelope.key,
                # Plain JSON, no CloudEvents headers: the consumer must still read the bytes.
                headers=[("content-type", b"application/json")],
            )

        async def status_once(done: Callable[[str], bool]) -> str:
            # The first case event may wait for intake's group to join: a busy broker's pace.
            deadline = loop.time() + 60
            while True:
                receipt = (await client.get(f"/v1/reports/{report_id}", headers=headers)).json()
                if done(receipt["status"]) or loop.time() > deadline:
                    return str(receipt["status"])
                await asyncio.sleep(0.2)

        await send(opened)
        assert await status_once(lambda status: status != "received") == "in_progress"
        await send(closed)
        assert await status_once(lambda status: status == "closed") == "closed"
        # A redelivered event changes nothing; the receipt never moves backwards. Its offset
        # committed is the sign intake handled it (the runtime commits after the handler).
        again = await send(opened)
        partition = TopicPartition(again.topic, again.partition)
        deadline = loop.time() + 60
        while (await committed_offsets(kafka_bootstrap, group)).get(partition, 0) <= again.offset:
            assert loop.time() < deadline, "intake never committed the redelivered event"
            await asyncio.sleep(0.2)
        assert await status_once(lambda status: True) == "closed"
    finally:
        await producer.stop()
    receipt = (await client.get(f"/v1/reports/{report_id}", headers=headers)).json()
    assert receipt["status_label"] == "已处理完毕"
    assert "case_id" not in receipt
    assert "severity" not in receipt
    # The events were consumed, and committed, under the group intake was configured with.
    assert await _committed(kafka_bootstrap, group) >= committed_before + 3


async def test_a_report_attached_to_an_existing_case_is_being_handled(
    client: httpx.AsyncClient, token, kafka_bootstrap: str
) -> None:
    headers = token(Role.FLOOR_LEADER, sub="2024030002")
    report_id = (await client.post("/v1/reports", json=REPORT, headers=headers)).json()["id"]
    ref = "stu_" + "b" * 32
    attached = Envelope.wrap(
        CaseReportsAttached(
            case_id=str(uuid.uuid4()),
            student_ref=ref,
            assessment_id="a-1",
            report_ids=[report_id],
            attached_at=NOW,
        ),
        source="/shouwang/casework",
        campus_id="demo",
        subject=ref,
    )
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(attached.topic, attached.to_bytes(), key=attached.key)
    finally:
        await producer.stop()
    deadline = asyncio.get_running_loop().time() + 60  # the group may still be joining
    while True:
        status = (await client.get(f"/v1/reports/{report_id}", headers=headers)).json()["status"]
        if status == "in_progress" or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.2)
    assert status == "in_progress"
