"""An empty rung on real PostgreSQL: when nobody holds an alert's owner role for the student,
notify alerts the next tier up that someone holds (the stand-in); the alert then waits on the
stand-in's awaiting list and the stand-in may confirm it, while a student whose rung is held
keeps waiting for its own tier. The sample rosters, less the staff rows a test leaves out."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from shouwang_casework.adapters.db import campus_transaction
from shouwang_casework.adapters.outbox import claim_event
from shouwang_casework.service_layer.warnings import on_alert_raised, on_assessment
from shouwang_contracts.vocabulary import Role, Severity

sys.path.insert(0, str(Path(__file__).parent))  # the shared helpers next to this file
from cases_support import (
    CENTER,
    CIPHER,
    COUNSELOR_7,
    COUNSELOR_8,
    PSEUDONYMS,
    SAMPLES,
    SECRET,
    STUDENT_NO,
    TEACHER,
    token,
    warning,
)

pytestmark = pytest.mark.integration

IN_7 = "2024030002"  # 7号楼, whose counselor (T1001) stays on the roster
CALLERS = {
    COUNSELOR_7: Role.RESIDENCE_COUNSELOR,
    TEACHER: Role.COMMUNITY_PSYCH_TEACHER,
    CENTER: Role.COUNSELING_CENTER,
}


def _sample_less(name: str, numbers: set[str] | frozenset[str]) -> bytes:
    """A sample roster less the rows of `numbers` (学号 or 工号, the first column)."""
    lines = (SAMPLES / name).read_text(encoding="utf-8").splitlines()
    kept = [line for line in lines if line.split(",")[0] not in numbers]
    assert len(kept) == len(lines) - len(numbers)
    return ("\n".join(kept) + "\n").encode()


async def _import(
    client: httpx.AsyncClient,
    campus: str,
    *,
    without: set[str],
    students_left: frozenset[str] = frozenset(),
) -> None:
    """The sample rosters, less the staff in `without` and the students in `students_left`."""
    admin = token(SECRET, campus, "A001", Role.CAMPUS_ADMIN)
    for kind, name, data in (
        ("students", "roster_students.csv", _sample_less("roster_students.csv", students_left)),
        ("staff", "roster_staff.csv", _sample_less("roster_staff.csv", without)),
    ):
        response = await client.post(
            f"/v1/roster/{kind}", files={"file": (name, data, "text/csv")}, headers=admin
        )
        assert response.status_code == 200, response.text


async def _raise(pool: asyncpg.Pool, campus: str, number: str) -> str:
    w = warning(
        campus, PSEUDONYMS.student_ref(campus, number), Severity.MODERATE, Role.RESIDENCE_COUNSELOR
    )
    for envelope, apply in ((w.assessment, on_assessment), (w.alert, on_alert_raised)):
        async with campus_transaction(pool, campus) as conn:
            assert await claim_event(conn, consumer="test", event_id=envelope.id, campus_id=campus)
            await apply(conn, envelope, CIPHER)
    return w.alert.data.alert_id


async def _awaiting(client: httpx.AsyncClient, headers: dict[str, str]) -> list[str]:
    response = await client.get("/v1/alerts/awaiting-me", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    count = await client.get("/v1/alerts/awaiting-me/count", headers=headers)
    assert count.status_code == 200, count.text
    assert count.json()["total"] == body["total"] == len(body["items"])
    return [item["alert_id"] for item in body["items"]]


@pytest.mark.parametrize(
    ("left_out", "stand_in"),
    [
        ({COUNSELOR_8}, TEACHER),  # 8号楼 has no residence counselor: the teacher is next
        ({COUNSELOR_8, TEACHER}, CENTER),  # nor a community psychology teacher: the center
    ],
)
async def test_the_stand_in_for_an_empty_rung_finds_the_alert_awaiting_them(
    client: httpx.AsyncClient, pool: asyncpg.Pool, left_out: set[str], stand_in: str
) -> None:
    campus = f"campus-{uuid.uuid4().hex[:8]}"
    await _import(client, campus, without=left_out)
    orphaned = await _raise(pool, campus, STUDENT_NO)  # 8号楼: its counselor's rung is empty
    held = await _raise(pool, campus, IN_7)  # 7号楼: its counselor holds the rung

    listed = {
        sub: await _awaiting(client, token(SECRET, campus, sub, role))
        for sub, role in CALLERS.items()
        if sub not in left_out
    }
    # The stand-in alone finds the empty rung's alert; the held rung's waits for its counselor,
    # not for the tiers above it (nor does a tier above the stand-in see either).
    assert listed == {
        sub: ([orphaned] if sub == stand_in else [held] if sub == COUNSELOR_7 else [])
        for sub in listed
    }

    # The stand-in confirms what it was alerted for and becomes the case's owner; it is then
    # no one's to confirm.
    headers = token(SECRET, campus, stand_in, CALLERS[stand_in])
    ack = await client.post(f"/v1/alerts/{orphaned}/acknowledgement", headers=headers)
    assert ack.status_code == 200, ack.text
    async with campus_transaction(pool, campus) as conn:
        case_id = str(
            await conn.fetchval("SELECT case_id FROM alerts WHERE alert_id = $1", orphaned)
        )
    case = await client.get(f"/v1/cases/{case_id}", headers=headers)
    assert case.status_code == 200, case.text
    assert case.json()["owner_ref"] == PSEUDONYMS.person_ref(campus, stand_in)
    assert case.json()["owner_role"] == CALLERS[stand_in].value
    assert await _awaiting(client, headers) == []


async def test_a_rung_filled_again_takes_its_alert_back_from_the_stand_in(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    """The list follows the roster as it stands: once 8号楼 has its counselor again, the
    unconfirmed alert waits for them, no longer for the teacher who stood in."""
    campus = f"campus-{uuid.uuid4().hex[:8]}"
    await _import(client, campus, without={COUNSELOR_8})
    alert = await _raise(pool, campus, STUDENT_NO)
    teacher = token(SECRET, campus, TEACHER, Role.COMMUNITY_PSYCH_TEACHER)
    assert await _awaiting(client, teacher) == [alert]

    await _import(client, campus, without=set())
    counselor = token(SECRET, campus, COUNSELOR_8, Role.RESIDENCE_COUNSELOR)
    assert await _awaiting(client, counselor) == [alert]
    assert await _awaiting(client, teacher) == []


async def test_no_one_stands_in_for_a_student_who_left(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    """Notify's directory names nobody responsible for a student who left the roster, so the
    on-duty line, not the teacher, has their empty rung's alert: the teacher's list agrees."""
    campus = f"campus-{uuid.uuid4().hex[:8]}"
    await _import(client, campus, without={COUNSELOR_8})
    alert = await _raise(pool, campus, STUDENT_NO)
    teacher = token(SECRET, campus, TEACHER, Role.COMMUNITY_PSYCH_TEACHER)
    assert await _awaiting(client, teacher) == [alert]

    await _import(client, campus, without={COUNSELOR_8}, students_left={STUDENT_NO})
    assert await _awaiting(client, teacher) == []
