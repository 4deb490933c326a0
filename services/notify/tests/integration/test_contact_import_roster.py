"""A contacts row the campus's roster does not know (a family row's 学号 not on the student
roster, a staff row's 工号 holding no role) is imported and listed as a warning by row number,
never the number; a campus whose roster notify has not heard of yet gets no such check, and
the answer says so (`roster_checked`)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest
from notify_api import api_bearer
from notify_api import post_contacts as post
from notify_delivery import SAMPLES
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events.casework import ResponsibleStaff, StudentRouting
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_contracts.vocabulary import Role
from shouwang_notify.adapters.db import campus_transaction
from shouwang_notify.service_layer.cases import apply_directory

pytestmark = pytest.mark.integration

FAMILY = (SAMPLES / "contacts_family.csv").read_bytes()
STAFF = (SAMPLES / "contacts_staff.csv").read_bytes()
# Row 7: a 学号 nobody issued.
FAMILY_WITH_STRANGER = (
    FAMILY.rstrip(b"\n") + "\n9999999999,,母亲,测试家长09,13900000009,\n".encode()
)


async def roster(
    pool: asyncpg.Pool, pseudonyms: Pseudonymizer, campus: str, students: dict[str, list[str]]
) -> None:
    """The directory's word on these students (学号 -> 工号 of their counselors; none: left)."""
    async with campus_transaction(pool, campus) as conn:
        for student_no, staff in students.items():
            ref = pseudonyms.student_ref(campus, student_no)
            entry = StudentRouting(
                student_ref=ref,
                active=bool(staff),
                responsible=[
                    ResponsibleStaff(
                        role=Role.RESIDENCE_COUNSELOR, person_ref=pseudonyms.person_ref(campus, n)
                    )
                    for n in staff
                ],
                updated_at=datetime.now(UTC),
            )
            await apply_directory(
                conn,
                Envelope.wrap(entry, source="/shouwang/casework", campus_id=campus, subject=ref),
            )


async def test_family_rows_of_students_off_the_roster_are_imported_and_listed_by_row(
    notify_api: httpx.AsyncClient, notify_pool: asyncpg.Pool, pseudonyms: Pseudonymizer
) -> None:
    campus = f"c{uuid.uuid4().hex[:8]}"
    # 2024010003 left (still known to the roster); 2024020004 and 9999999999 never on it.
    await roster(
        notify_pool,
        pseudonyms,
        campus,
        {"2024020001": ["T1001"], "2024030002": ["T1002"], "2024010003": []},
    )
    answer = await post(notify_api, campus, "family", FAMILY_WITH_STRANGER)
    assert answer.status_code == 201
    body = answer.json()
    assert (body["imported"], body["roster_checked"]) == (6, True)
    assert [(w["row"], w["field"], w["code"]) for w in body["warnings"]] == [
        (6, "student_no", "student_not_on_roster"),
        (7, "student_no", "student_not_on_roster"),
    ]
    assert "第 6、7 行" in body["message"]
    assert body["warnings"][0]["message"].startswith("学号不在本校学生名册上：请核对学号")
    assert "message_en" not in body["warnings"][0]
    assert "学号不在本校学生名册上" in body["message"]
    assert "导入 30 天后学生名册仍无此学号的，其家属联系方式将被删除" in body["message"]
    for number in ("2024020004", "9999999999"):
        assert number not in answer.text
    stranger = await notify_api.get(
        "/v1/contacts/family/9999999999", headers=api_bearer(Role.CAMPUS_ADMIN, campus)
    )
    assert len(stranger.json()["members"]) == 1  # imported: the roster may come later

    english = (await post(notify_api, campus, "family", FAMILY, "en")).json()
    assert [w["row"] for w in english["warnings"]] == [6]
    assert english["message"].startswith("5 contacts imported. Row 6: the student number")
    assert english["warnings"][0]["message"].startswith("student number is not on the")


async def test_staff_rows_holding_no_role_are_imported_and_listed_by_row(
    notify_api: httpx.AsyncClient, notify_pool: asyncpg.Pool, pseudonyms: Pseudonymizer
) -> None:
    campus = f"c{uuid.uuid4().hex[:8]}"
    await roster(
        notify_pool, pseudonyms, campus, {"2024020001": ["T1001", "T3001"], "2024030002": ["T1002"]}
    )
    answer = await post(notify_api, campus, "staff", STAFF)
    assert answer.status_code == 201
    body = answer.json()
    assert (body["imported"], body["roster_checked"]) == (9, True)
    # T2001, T4001 and the three students hold no role; the on-duty row (10) is nobody's.
    assert [w["row"] for w in body["warnings"]] == [4, 6, 7, 8, 9]
    assert {w["code"] for w in body["warnings"]} == {"staff_without_role"}
    for number in ("T2001", "T4001", "2024020001"):
        assert number not in answer.text


async def test_a_campus_whose_roster_notify_has_not_heard_of_gets_no_roster_check(
    notify_api: httpx.AsyncClient,
) -> None:
    campus = f"c{uuid.uuid4().hex[:8]}"
    body = (await post(notify_api, campus, "family", FAMILY_WITH_STRANGER)).json()
    assert (body["imported"], body["roster_checked"], body["warnings"]) == (6, False, [])
    assert body["message"] is None
