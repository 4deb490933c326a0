"""A staff member who leaves casework's roster is known to notify, through the real topic.

Casework and notify run as real processes on the session's Kafka and PostgreSQL. A snapshot
staff import without a counsellor announces `staff.listing_changed` through casework's
outbox; notify records the leaving (its retention chore ends their contacts after the
grace: `services/notify/tests/integration/test_staff_left.py`). The roster corrected, the
leaving is forgotten and the contacts stay. (docs/retention.md, "Staff who left".)
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from shouwang_contracts.auth import mint_token
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_contracts.vocabulary import Role
from shouwang_devstack.fresh_groups import start_fresh_groups

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
LEAVER = "T1001"  # a residence counsellor in roster_staff.csv and contacts_staff.csv


async def eventually(check: Callable[[], Awaitable[bool]], what: str, within: float = 120) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        assert loop.time() < deadline, f"not within {within} s: {what}"
        await asyncio.sleep(0.3)


async def test_a_staff_member_left_off_the_roster_is_recorded_by_notify_until_listed_again(
    service_process: Any, devstack_env: dict[str, str], kafka_bootstrap: str
) -> None:
    campus = f"stf{uuid.uuid4().hex[:6]}"
    pseudonyms = Pseudonymizer(devstack_env["SHOUWANG_PSEUDONYM_KEY"].encode())
    leaver = pseudonyms.person_ref(campus, LEAVER)
    token = mint_token(
        devstack_env["SHOUWANG_JWT_SECRET"], sub="A001", role=Role.CAMPUS_ADMIN, campus_id=campus
    )
    admin = {"Authorization": f"Bearer {token}"}
    # Groups of their own at the topics' end: not through what earlier tests left first.
    groups = await start_fresh_groups(kafka_bootstrap, ("casework", "notify"))
    casework = service_process("casework", groups["casework"])
    notify = service_process("notify", groups["notify"])
    await asyncio.gather(casework.start_async(), notify.start_async())
    notify_db = notify.env["NOTIFY_DATABASE_URL"]

    async def notify_holds(sql: str) -> list[str]:
        conn = await asyncpg.connect(notify_db)
        try:
            # Notify's tables are row-level secured per campus; its workers read them all so.
            await conn.execute("SELECT set_config('shouwang.all_campuses', 'on', false)")
            return [r[0] for r in await conn.fetch(sql + " WHERE campus_id = $1", campus)]
        finally:
            await conn.close()

    roster = (SAMPLES / "roster_staff.csv").read_text("utf-8")
    without_leaver = "\n".join(line for line in roster.splitlines() if LEAVER not in line) + "\n"
    async with httpx.AsyncClient(timeout=30) as http:

        async def post(base: str, path: str, text: str, ok: int) -> None:
            answer = await http.post(
                base + path, files={"file": ("f.csv", text.encode(), "text/csv")}, headers=admin
            )
            assert answer.status_code == ok, answer.text

        contacts = (SAMPLES / "contacts_staff.csv").read_text("utf-8")
        await post(notify.base_url, "/v1/imports/staff-contacts", contacts, 201)
        await post(casework.base_url, "/v1/roster/staff", roster, 200)
        await post(casework.base_url, "/v1/roster/staff", without_leaver, 200)

        async def leaving_recorded() -> bool:
            return await notify_holds("SELECT person_ref FROM staff_left") == [leaver]

        await eventually(leaving_recorded, "notify recorded the counsellor's leaving")
        # Within the grace nothing ends: the leaver's and everyone else's contacts stay.
        held = await notify_holds("SELECT person_ref FROM staff_contacts")
        assert leaver in held
        assert "on_duty" in held

        await post(casework.base_url, "/v1/roster/staff", roster, 200)

        async def leaving_forgotten() -> bool:
            return await notify_holds("SELECT person_ref FROM staff_left") == []

        await eventually(leaving_forgotten, "notify forgot the leaving once listed again")
        assert leaver in await notify_holds("SELECT person_ref FROM staff_contacts")
    # Notify's log names the events, never the person.
    assert leaver not in notify.log_text()
