"""A contacts file imported again changes nothing and says so: `imported` 0, when it was
first imported, and, for a family file, how many of its students have no family contact now
(erased on request since: an old file must not undo an erasure, and does not)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest
from notify_api import api_bearer
from notify_api import post_contacts as post
from notify_delivery import SAMPLES
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_contracts.vocabulary import Role
from shouwang_notify.adapters.db import campus_transaction
from shouwang_notify.adapters.erasure import erase_family_contacts

pytestmark = pytest.mark.integration

FAMILY = (SAMPLES / "contacts_family.csv").read_bytes()
STAFF = (SAMPLES / "contacts_staff.csv").read_bytes()


async def test_a_replayed_family_file_says_it_changed_nothing_and_restores_no_erased_family(
    notify_api: httpx.AsyncClient, notify_pool: asyncpg.Pool, pseudonyms: Pseudonymizer
) -> None:
    campus = f"c{uuid.uuid4().hex[:8]}"
    first = await post(notify_api, campus, "family", FAMILY)
    assert first.status_code == 201
    assert (first.json()["imported"], first.json()["replayed"]) == (5, False)
    assert first.json()["message"] is None
    student = pseudonyms.student_ref(campus, "2024020001")
    async with campus_transaction(notify_pool, campus) as conn:
        assert await erase_family_contacts(conn, campus, student, datetime.now(UTC)) == 2

    again = await post(notify_api, campus, "family", FAMILY)
    assert again.status_code == 200
    body = again.json()
    assert (body["imported"], body["replayed"], body["rows_total"]) == (0, True, 5)
    assert body["import_id"] == first.json()["import_id"]
    assert body["first_imported_at"] is not None
    assert body["students_without_contacts"] == 1
    assert body["message"].startswith("该文件已于 ")
    assert "本次未做任何更改" in body["message"]
    assert "1 名学生" in body["message"]
    english = (await post(notify_api, campus, "family", FAMILY, "en")).json()
    assert english["message"].startswith("This file was already imported on ")
    assert "nothing was changed" in english["message"]
    assert "1 of its students has no family contact" in english["message"]
    erased = await notify_api.get(
        "/v1/contacts/family/2024020001", headers=api_bearer(Role.CAMPUS_ADMIN, campus)
    )
    assert erased.json()["members"] == []  # the erasure stands


async def test_a_replayed_staff_file_says_it_changed_nothing(
    notify_api: httpx.AsyncClient,
) -> None:
    campus = f"c{uuid.uuid4().hex[:8]}"
    assert (await post(notify_api, campus, "staff", STAFF)).status_code == 201
    again = await post(notify_api, campus, "staff", STAFF)
    body = again.json()
    assert (again.status_code, body["imported"], body["replayed"]) == (200, 0, True)
    assert body["students_without_contacts"] is None
    assert body["message"].startswith("该文件已于 ")
    assert "名学生" not in body["message"]
