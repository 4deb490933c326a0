"""Family contacts imported under a 学号 casework's directory never names (a mistyped number)
end NOTIFY_FAMILY_CONTACTS_UNNAMED_DAYS after their import, as the import's warning says;
a student the directory names (on the roster with or without anyone responsible, or left)
keeps them, as does one with a case here, and nothing ends before the directory's first word
is as old (`adapters/retention.py`)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from notify_api import post_contacts as post
from notify_delivery import SAMPLES, rows
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events.casework import ResponsibleStaff, StudentRouting
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_contracts.vocabulary import Role
from shouwang_notify.adapters.db import campus_transaction, worker_transaction
from shouwang_notify.adapters.retention import purge_family_contacts_never_named
from shouwang_notify.adapters.state import upsert_case
from shouwang_notify.service_layer.cases import apply_directory

pytestmark = pytest.mark.integration

# 2024020001, 2024030002, 2024010003, 2024020004; and 9999999999, a number nobody issued.
FAMILY = (SAMPLES / "contacts_family.csv").read_bytes().rstrip(
    b"\n"
) + "\n9999999999,,母亲,测试家长09,13900000009,\n".encode()


async def directory(
    pool: asyncpg.Pool, pseudonyms: Pseudonymizer, campus: str, student_no: str, **entry: object
) -> None:
    """Casework's directory entry of one student, as notify consumes it."""
    ref = pseudonyms.student_ref(campus, student_no)
    routing = StudentRouting(student_ref=ref, updated_at=datetime.now(UTC), **entry)  # type: ignore[arg-type]
    async with campus_transaction(pool, campus) as conn:
        await apply_directory(
            conn, Envelope.wrap(routing, source="/shouwang/casework", campus_id=campus, subject=ref)
        )


async def students_with_contacts(
    pool: asyncpg.Pool, pseudonyms: Pseudonymizer, campus: str
) -> set[str]:
    found = {r["student_ref"] for r in await rows(pool, "SELECT student_ref FROM family_contacts")}
    numbers = ("2024020001", "2024030002", "2024010003", "2024020004", "9999999999")
    return {n for n in numbers if pseudonyms.student_ref(campus, n) in found}


async def purge(pool: asyncpg.Pool, before: datetime) -> int:
    async with worker_transaction(pool) as conn:
        return await purge_family_contacts_never_named(conn, before, 500)


async def test_a_mistyped_students_family_contacts_end_after_the_grace_and_no_one_elses(
    notify_api: httpx.AsyncClient, notify_pool: asyncpg.Pool, pseudonyms: Pseudonymizer
) -> None:
    campus, unheard = f"c{uuid.uuid4().hex[:8]}", f"c{uuid.uuid4().hex[:8]}"
    # On the roster with a counselor, on it with nobody responsible yet, and left it.
    counselor = ResponsibleStaff(
        role=Role.RESIDENCE_COUNSELOR, person_ref=pseudonyms.person_ref(campus, "T1001")
    )
    await directory(
        notify_pool, pseudonyms, campus, "2024020001", active=True, responsible=[counselor]
    )
    await directory(notify_pool, pseudonyms, campus, "2024030002", active=True, responsible=[])
    await directory(notify_pool, pseudonyms, campus, "2024010003", active=False, responsible=[])
    async with campus_transaction(notify_pool, campus) as conn:
        # 2024020004: never named, but a case here proves the student exists.
        await upsert_case(
            conn, campus, str(uuid.uuid4()), pseudonyms.student_ref(campus, "2024020004")
        )
    assert (await post(notify_api, campus, "family", FAMILY)).status_code == 201
    assert (await post(notify_api, unheard, "family", FAMILY)).status_code == 201
    everyone = {"2024020001", "2024030002", "2024010003", "2024020004", "9999999999"}

    # Within the grace nothing ends.
    assert await purge(notify_pool, datetime.now(UTC) - timedelta(days=1)) == 0
    assert await students_with_contacts(notify_pool, pseudonyms, campus) == everyone
    # Past it, only the number the directory never named; the campus whose directory notify
    # never heard keeps every contact (nothing is named there yet).
    assert await purge(notify_pool, datetime.now(UTC) + timedelta(days=1)) == 1
    assert await students_with_contacts(notify_pool, pseudonyms, campus) == everyone - {
        "9999999999"
    }
    assert await students_with_contacts(notify_pool, pseudonyms, unheard) == everyone
