"""Staff who leave the roster are announced: a snapshot staff import puts a
`staff.listing_changed` per person it removes or lists (again) in the outbox, in its own
transaction, naming the pseudonym only; an incremental import says nothing of people it
does not mention. Notify ends a leaver's contacts on it (docs/retention.md)."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from shouwang_casework.adapters.db import campus_transaction
from shouwang_contracts.auth import mint_token
from shouwang_contracts.events import StaffListingChanged
from shouwang_contracts.vocabulary import Role

sys.path.insert(0, str(Path(__file__).parent))  # the shared helpers next to this file
from cases_support import PSEUDONYMS, SAMPLES, SECRET

pytestmark = pytest.mark.integration

STAFF = (SAMPLES / "roster_staff.csv").read_text("utf-8")
LEAVER_LINE = "T1001,测试辅导员甲,公寓辅导员,楼栋,7号楼\n"


async def upload(
    client: httpx.AsyncClient, campus_id: str, text: str, **params: Any
) -> httpx.Response:
    auth = mint_token(SECRET, sub="A001", role=Role.CAMPUS_ADMIN, campus_id=campus_id)
    response = await client.post(
        "/v1/roster/staff",
        params=params,
        files={"file": ("staff.csv", text.encode(), "text/csv")},
        headers={"Authorization": f"Bearer {auth}"},
    )
    assert response.status_code == 200, response.text
    return response


async def listing_events(pool: asyncpg.Pool, campus_id: str) -> list[dict[str, Any]]:
    async with campus_transaction(pool, campus_id) as conn:
        rows = await conn.fetch("SELECT key, payload FROM outbox ORDER BY id")
    events = [(bytes(r["key"]), json.loads(r["payload"])) for r in rows]
    listing = [(k, e) for k, e in events if e["type"] == StaffListingChanged.EVENT_TYPE]
    for key, event in listing:
        # Keyed by the person: a leaving and a re-listing reach a consumer in order.
        assert key == f"{campus_id}:{event['data']['person_ref']}".encode()
    return [e["data"] for _, e in listing]


async def test_a_snapshot_staff_import_announces_who_left_and_who_is_listed_again(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    campus_id = f"campus-{uuid.uuid4().hex[:8]}"
    leaver = PSEUDONYMS.person_ref(campus_id, "T1001")
    first = await upload(client, campus_id, STAFF)
    assert first.json()["counts"]["people_listed"] == 8
    # Everyone is new on the first import: each is announced as listed.
    assert sorted(e["person_ref"] for e in await listing_events(pool, campus_id)) == sorted(
        PSEUDONYMS.person_ref(campus_id, line.split(",")[0]) for line in STAFF.splitlines()[1:]
    )
    without_leaver = STAFF.replace(LEAVER_LINE, "")

    dry = await upload(client, campus_id, without_leaver, dry_run="true")
    assert dry.json()["counts"]["people_unlisted"] == 1
    assert len(await listing_events(pool, campus_id)) == 8  # a dry run announces nothing

    gone = await upload(client, campus_id, without_leaver)
    assert (gone.json()["counts"]["people_unlisted"], gone.json()["counts"]["people_listed"]) == (
        1,
        0,
    )
    *_, left = await listing_events(pool, campus_id)
    assert (left["person_ref"], left["listed"]) == (leaver, False)

    # The same roster again: nobody new, nobody gone, nothing announced.
    await upload(client, campus_id, without_leaver + "\n")
    assert len(await listing_events(pool, campus_id)) == 9

    # The roster mistake corrected: listed again, announced at once.
    back = await upload(client, campus_id, STAFF)
    assert back.json()["counts"]["people_listed"] == 1
    *_, again = await listing_events(pool, campus_id)
    assert (again["person_ref"], again["listed"]) == (leaver, True)
    assert again["changed_at"] > left["changed_at"]

    # Pseudonyms and times only: no name, 工号 or scope travels.
    async with campus_transaction(pool, campus_id) as conn:
        payloads = await conn.fetch("SELECT payload FROM outbox")
    listing = [p[0].decode() for p in payloads if b"staff.listing_changed" in p[0]]
    assert len(listing) == 10
    for text in listing:
        for secret in ("测试", "T1001", "T1002", "7号楼", "公寓辅导员"):
            assert secret not in text
        assert set(json.loads(text)["data"]) == {"person_ref", "listed", "changed_at"}


async def test_an_incremental_staff_import_says_nothing_of_people_it_does_not_mention(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    campus_id = f"campus-{uuid.uuid4().hex[:8]}"
    await upload(client, campus_id, STAFF)
    newcomer = "工号/学号,姓名,角色,范围类型,范围\nT1009,测试辅导员丙,公寓辅导员,楼栋,9号楼\n"
    added = await upload(client, campus_id, newcomer, mode="upsert")
    assert (added.json()["counts"]["people_listed"], added.json()["counts"]["people_unlisted"]) == (
        1,
        0,
    )
    events = await listing_events(pool, campus_id)
    assert len(events) == 9
    assert events[-1]["person_ref"] == PSEUDONYMS.person_ref(campus_id, "T1009")
    assert all(e["listed"] for e in events)
    async with campus_transaction(pool, campus_id) as conn:
        assert await conn.fetchval("SELECT count(*) FROM staff") == 9
