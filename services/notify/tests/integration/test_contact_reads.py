"""Who read contact details: every answer of the contacts API that shows a family's or a staff
member's contact points leaves a row in an append-only trail, written in the answer's own
transaction, that auditors (and no one else) read at GET /v1/contact-reads. Notify's API in
this process on a real PostgreSQL (`notify_api`)."""

from __future__ import annotations

import uuid

import asyncpg
import httpx
import pytest
from notify_api import api_bearer
from notify_delivery import SAMPLES
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_contracts.vocabulary import Role
from shouwang_notify.adapters import contact_reads
from shouwang_notify.adapters.db import campus_transaction

pytestmark = pytest.mark.integration

FAMILY = (SAMPLES / "contacts_family.csv").read_bytes()
STAFF = (SAMPLES / "contacts_staff.csv").read_bytes()


def a_campus() -> str:
    return f"c{uuid.uuid4().hex[:8]}"


async def imported(api: httpx.AsyncClient, campus: str, kind: str, data: bytes) -> None:
    answer = await api.post(
        f"/v1/imports/{kind}-contacts",
        files={"file": (f"{kind}.csv", data, "text/csv")},
        headers=api_bearer(Role.CAMPUS_ADMIN, campus),
    )
    assert answer.status_code == 201, answer.text


async def trail(api: httpx.AsyncClient, campus: str, **params: str) -> list[dict[str, object]]:
    answer = await api.get(
        "/v1/contact-reads", params=params, headers=api_bearer(Role.AUDITOR, campus, "AU01")
    )
    assert answer.status_code == 200, answer.text
    items: list[dict[str, object]] = answer.json()["items"]
    return [i for i in items if i["action"] != "contact_reads.read"]


async def test_reading_a_familys_contacts_leaves_a_trace_an_auditor_sees(
    notify_api: httpx.AsyncClient, pseudonyms: Pseudonymizer
) -> None:
    campus = a_campus()
    await imported(notify_api, campus, "family", FAMILY)
    await imported(notify_api, campus, "staff", STAFF)
    admin = api_bearer(Role.CAMPUS_ADMIN, campus)
    family = await notify_api.get("/v1/contacts/family/2024020001", headers=admin)
    assert len(family.json()["members"]) == 2
    nobody = await notify_api.get("/v1/contacts/family/2099000001", headers=admin)
    assert nobody.json()["members"] == []  # answered as before, and still a read
    staff = await notify_api.get("/v1/contacts/staff/T1001", headers=admin)
    assert staff.json()["mobile"] == "13800000001"
    unknown = await notify_api.get("/v1/contacts/staff/T9999", headers=admin)
    assert unknown.status_code == 404

    answer = await notify_api.get(
        "/v1/contact-reads", headers=api_bearer(Role.AUDITOR, campus, "AU01")
    )
    assert "2024020001" not in answer.text
    assert "T1001" not in answer.text
    rows = [i for i in answer.json()["items"] if i["action"] != "contact_reads.read"]
    admin_ref = pseudonyms.person_ref(campus, "A0001")
    assert [(r["action"], r["student_ref"], r["person_ref"], r["contacts"]) for r in rows] == [
        ("staff.read", None, pseudonyms.person_ref(campus, "T9999"), 0),
        ("staff.read", None, pseudonyms.person_ref(campus, "T1001"), 1),
        ("family.read", pseudonyms.student_ref(campus, "2099000001"), None, 0),
        ("family.read", pseudonyms.student_ref(campus, "2024020001"), None, 2),
    ]
    assert {(r["reader_ref"], r["role"]) for r in rows} == {(admin_ref, "campus_admin")}
    one = await trail(notify_api, campus, student_no="2024020001")
    assert [(r["action"], r["contacts"]) for r in one] == [("family.read", 2)]
    assert len(await trail(notify_api, campus, staff_no="A0001")) == 4
    assert await trail(notify_api, campus, staff_no="A0002") == []
    # the auditors' looks are in the trail too
    everything = await notify_api.get(
        "/v1/contact-reads", headers=api_bearer(Role.AUDITOR, campus, "AU01")
    )
    looks = [i for i in everything.json()["items"] if i["action"] == "contact_reads.read"]
    assert len(looks) == 4
    assert {i["reader_ref"] for i in looks} == {pseudonyms.person_ref(campus, "AU01")}


async def test_writing_contacts_answers_them_and_leaves_a_trace(
    notify_api: httpx.AsyncClient,
) -> None:
    campus = a_campus()
    admin = api_bearer(Role.CAMPUS_ADMIN, campus)
    body = {"members": [{"relation": "母亲", "name": "测试家长", "mobile": "13900000009"}]}
    put = await notify_api.put("/v1/contacts/family/2024020009", json=body, headers=admin)
    assert put.status_code == 200
    assert put.json()["members"][0]["mobile"] == "13900000009"
    staff = await notify_api.put(
        "/v1/contacts/staff/T5001", json={"email": "t5001@example.edu.cn"}, headers=admin
    )
    assert staff.status_code == 200
    rows = await trail(notify_api, campus)
    assert [(r["action"], r["contacts"]) for r in rows] == [
        ("staff.write", 1),
        ("family.write", 1),
    ]


async def test_an_admin_cannot_read_or_erase_the_trail_of_their_own_reads(
    notify_api: httpx.AsyncClient, notify_pool: asyncpg.Pool
) -> None:
    campus = a_campus()
    await imported(notify_api, campus, "family", FAMILY)
    admin = api_bearer(Role.CAMPUS_ADMIN, campus)
    await notify_api.get("/v1/contacts/family/2024020001", headers=admin)
    for role in (Role.CAMPUS_ADMIN, Role.COUNSELING_CENTER, Role.PLATFORM_ADMIN):
        refused = await notify_api.get("/v1/contact-reads", headers=api_bearer(role, campus))
        assert refused.status_code == 403, role
        assert refused.headers["content-type"].startswith("application/problem+json")
    assert (await notify_api.get("/v1/contact-reads")).status_code == 401
    # nor through the service's own database role: the trail is INSERT and SELECT only
    for statement in (
        "DELETE FROM contact_reads",
        "UPDATE contact_reads SET reader_ref = 'someone_else'",
        "TRUNCATE contact_reads",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            async with campus_transaction(notify_pool, campus) as conn:
                await conn.execute(statement)
    assert len(await trail(notify_api, campus)) == 1


async def test_another_campus_reads_no_contacts_and_its_trail_is_its_own(
    notify_api: httpx.AsyncClient, pseudonyms: Pseudonymizer
) -> None:
    home, other = a_campus(), a_campus()
    await imported(notify_api, home, "family", FAMILY)
    answer = await notify_api.get(
        "/v1/contacts/family/2024020001", headers=api_bearer(Role.CAMPUS_ADMIN, other)
    )
    assert answer.status_code == 200
    assert answer.json()["members"] == []
    assert await trail(notify_api, home) == []
    rows = await trail(notify_api, other)
    assert [(r["student_ref"], r["contacts"]) for r in rows] == [
        (pseudonyms.student_ref(other, "2024020001"), 0)
    ]


async def test_bad_paging_of_the_trail_is_a_clear_problem(notify_api: httpx.AsyncClient) -> None:
    campus = a_campus()
    auditor = api_bearer(Role.AUDITOR, campus)
    for params in ({"limit": "0"}, {"limit": "501"}, {"before_id": "0"}, {"student_ref": "A B"}):
        answer = await notify_api.get("/v1/contact-reads", params=params, headers=auditor)
        assert answer.status_code == 422, params
        assert answer.headers["content-type"].startswith("application/problem+json")
    english = await notify_api.get(
        "/v1/contact-reads",
        params={"limit": "0"},
        headers={**auditor, "Accept-Language": "en"},
    )
    chinese = await notify_api.get("/v1/contact-reads", params={"limit": "0"}, headers=auditor)
    assert english.json()["detail"] != chinese.json()["detail"]


async def test_a_read_whose_trace_cannot_be_written_is_not_answered(
    notify_api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    campus = a_campus()
    await imported(notify_api, campus, "family", FAMILY)

    async def unwritable(*args: object, **kwargs: object) -> None:
        raise asyncpg.InsufficientPrivilegeError("the trail refused the row")

    monkeypatch.setattr(contact_reads, "record", unwritable)
    # the handler gives up before answering (the in-process client re-raises what the app
    # raised; served, it is a 500 problem with no contact in it)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await notify_api.get(
            "/v1/contacts/family/2024020001", headers=api_bearer(Role.CAMPUS_ADMIN, campus)
        )
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await notify_api.get(
            "/v1/contacts/staff/T1001", headers=api_bearer(Role.CAMPUS_ADMIN, campus)
        )
