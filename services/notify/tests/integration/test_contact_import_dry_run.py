"""A contacts import can be rehearsed (`dry_run=true`: the answer the import would give,
nothing written) and the campus admin can list past imports (who, when, what, counts; no
personal data), as casework's roster imports can."""

from __future__ import annotations

import json
import uuid

import asyncpg
import httpx
import pytest
from notify_api import api_bearer
from notify_api import post_contacts as post
from notify_delivery import SAMPLES, rows
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_contracts.vocabulary import Role

pytestmark = pytest.mark.integration

FAMILY = (SAMPLES / "contacts_family.csv").read_bytes()
STAFF = (SAMPLES / "contacts_staff.csv").read_bytes()
# Row 7: a mobile number no phone has.
FAMILY_BAD = FAMILY.rstrip(b"\n") + "\n2024020005,,母亲,测试家长05,1390000,\n".encode()


async def rehearse(
    api: httpx.AsyncClient, campus: str, kind: str, data: bytes, language: str = "zh-CN"
) -> httpx.Response:
    return await api.post(
        f"/v1/imports/{kind}-contacts",
        params={"dry_run": "true"},
        files={"file": (f"{kind}.csv", data, "text/csv")},
        headers={**api_bearer(Role.CAMPUS_ADMIN, campus), "Accept-Language": language},
    )


async def family_rows(pool: asyncpg.Pool) -> int:
    return len(await rows(pool, "SELECT 1 FROM family_contacts"))


async def test_a_dry_run_answers_what_the_import_would_do_and_writes_nothing(
    notify_api: httpx.AsyncClient, notify_pool: asyncpg.Pool
) -> None:
    campus = f"c{uuid.uuid4().hex[:8]}"
    trial = await rehearse(notify_api, campus, "family", FAMILY)
    assert trial.status_code == 200, trial.text
    body = trial.json()
    assert (body["dry_run"], body["imported"], body["rows_total"], body["replayed"]) == (
        True,
        5,
        5,
        False,
    )
    assert body["message"] == "试导入，未做任何更改：正式导入将导入 5 条联系人。"
    english = (await rehearse(notify_api, campus, "family", FAMILY, "en")).json()
    assert english["message"] == "Dry run, nothing was changed: 5 contacts would be imported."
    assert await family_rows(notify_pool) == 0

    # The import then does what the dry run said, and is no replay of it.
    done = await post(notify_api, campus, "family", FAMILY)
    assert done.status_code == 201
    assert (done.json()["imported"], done.json()["replayed"]) == (5, False)
    assert await family_rows(notify_pool) == 5
    # Rehearsed again, the file would change nothing.
    again = (await rehearse(notify_api, campus, "family", FAMILY)).json()
    assert (again["dry_run"], again["imported"], again["replayed"]) == (True, 0, True)
    assert again["message"].startswith("试导入：该文件已于 ")


async def test_a_dry_run_refuses_bad_rows_as_the_import_does(
    notify_api: httpx.AsyncClient, notify_pool: asyncpg.Pool
) -> None:
    campus = f"c{uuid.uuid4().hex[:8]}"
    trial = await rehearse(notify_api, campus, "family", FAMILY_BAD)
    real = await post(notify_api, campus, "family", FAMILY_BAD)
    assert trial.status_code == real.status_code == 422
    assert trial.json()["code"] == real.json()["code"] == "contact_rows_invalid"
    assert trial.json()["errors"] == real.json()["errors"]
    assert [e["row"] for e in trial.json()["errors"]] == [7]
    assert await family_rows(notify_pool) == 0


async def test_the_list_of_imports_says_who_when_and_how_many_and_no_personal_data(
    notify_api: httpx.AsyncClient, pseudonyms: Pseudonymizer
) -> None:
    campus = f"c{uuid.uuid4().hex[:8]}"
    assert (await rehearse(notify_api, campus, "family", FAMILY)).status_code == 200
    assert (await post(notify_api, campus, "family", FAMILY_BAD)).status_code == 422
    assert (await post(notify_api, campus, "family", FAMILY)).status_code == 201
    assert (await post(notify_api, campus, "family", FAMILY)).status_code == 200  # a replay
    assert (await post(notify_api, campus, "staff", STAFF)).status_code == 201
    admin = api_bearer(Role.CAMPUS_ADMIN, campus)

    listed = await notify_api.get("/v1/imports", headers=admin)
    assert listed.status_code == 200
    items = listed.json()["items"]
    # Newest first; the replay changed nothing and is not an import of its own.
    assert [(i["kind"], i["status"]) for i in items] == [
        ("staff", "applied"),
        ("family", "applied"),
        ("family", "rejected"),
        ("family", "dry_run"),
    ]
    assert items[1]["counts"] == {"rows_total": 5, "imported": 5, "warnings": 0}
    assert items[2]["errors"] == 1
    assert items[3]["counts"]["imported"] == 5
    assert {i["imported_by"] for i in items} == {pseudonyms.person_ref(campus, "A0001")}
    text = json.dumps(listed.json(), ensure_ascii=False)
    for detail in ("2024020001", "1390000", "测试", "@example.com", "A0001"):
        assert detail not in text
    family = (await notify_api.get("/v1/imports?kind=family&limit=2", headers=admin)).json()
    assert [i["status"] for i in family["items"]] == ["applied", "rejected"]


async def test_another_campus_or_role_cannot_list_a_campus_imports(
    notify_api: httpx.AsyncClient,
) -> None:
    campus = f"c{uuid.uuid4().hex[:8]}"
    assert (await post(notify_api, campus, "family", FAMILY)).status_code == 201
    for role in (Role.COUNSELING_CENTER, Role.AUDITOR):
        denied = await notify_api.get("/v1/imports", headers=api_bearer(role, campus))
        assert denied.status_code == 403, role
    trial = await notify_api.post(
        "/v1/imports/family-contacts",
        params={"dry_run": "true"},
        files={"file": ("family.csv", FAMILY, "text/csv")},
        headers=api_bearer(Role.COUNSELING_CENTER, campus),
    )
    assert trial.status_code == 403
    elsewhere = api_bearer(Role.CAMPUS_ADMIN, f"c{uuid.uuid4().hex[:8]}")
    assert (await notify_api.get("/v1/imports", headers=elsewhere)).json() == {"items": []}
