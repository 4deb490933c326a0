"""`GET /v1/alerts/awaiting-me` on real PostgreSQL: the alerts a person must confirm now, and
exactly those: every listed alert the caller can acknowledge, and every alert the route lets
them acknowledge listed unless a lower tier still holds it (it waits for that tier)."""

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
from shouwang_casework.domain.guards import NotPermitted
from shouwang_casework.service_layer.access import Caller
from shouwang_casework.service_layer.loop import acknowledge_alert
from shouwang_casework.service_layer.warnings import (
    on_alert_escalated,
    on_alert_raised,
    on_assessment,
)
from shouwang_contracts.auth import Principal
from shouwang_contracts.vocabulary import Role, Severity

sys.path.insert(0, str(Path(__file__).parent))  # the shared helpers next to this file
from cases_support import (
    CENTER,
    CIPHER,
    COUNSELOR_7,
    COUNSELOR_8,
    PSEUDONYMS,
    SECRET,
    STUDENT_NO,
    TEACHER,
    escalation,
    import_roster,
    refused,
    token,
    warning,
)

pytestmark = pytest.mark.integration
COUNSELOR_TIER = Role.RESIDENCE_COUNSELOR.tier

OTHER_8 = "2024010003"  # 8号楼, 土木建筑工程学院
IN_7 = "2024030002"  # 7号楼
LEADER = "T4001"  # college leader of 土木建筑工程学院 (OTHER_8 is of it) in the sample roster
CALLERS = {
    COUNSELOR_8: Role.RESIDENCE_COUNSELOR,
    COUNSELOR_7: Role.RESIDENCE_COUNSELOR,
    TEACHER: Role.COMMUNITY_PSYCH_TEACHER,
    CENTER: Role.COUNSELING_CENTER,
    LEADER: Role.COLLEGE_LEADER,
}


async def _apply(pool: asyncpg.Pool, campus: str, envelope: Any, apply: Any) -> None:
    async with campus_transaction(pool, campus) as conn:
        assert await claim_event(conn, consumer="test", event_id=envelope.id, campus_id=campus)
        await apply(conn, envelope, CIPHER)


async def _raise(
    pool: asyncpg.Pool, campus: str, number: str, severity: Severity, owner: Role
) -> str:
    w = warning(campus, PSEUDONYMS.student_ref(campus, number), severity, owner)
    await _apply(pool, campus, w.assessment, on_assessment)
    await _apply(pool, campus, w.alert, on_alert_raised)
    return w.alert.data.alert_id


async def _awaiting(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get("/v1/alerts/awaiting-me", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["total"] == len(body["items"])
    return body


async def _may_acknowledge(
    pool: asyncpg.Pool, campus: str, sub: str, role: Role, alert: str
) -> bool:
    """Whether the acknowledgement's own rule lets the caller acknowledge `alert`: tried in a
    transaction that is rolled back, so every caller can be asked about every alert."""
    caller = Caller(
        Principal(sub=sub, role=role, campus_id=campus), PSEUDONYMS.person_ref(campus, sub)
    )
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        try:
            await conn.execute("SELECT set_config('shouwang.campus_id', $1, true)", campus)
            await acknowledge_alert(conn, caller, CIPHER, alert)
            return True
        except NotPermitted:
            return False
        finally:
            await tx.rollback()


async def _audit_rows(pool: asyncpg.Pool, campus: str) -> int:
    async with campus_transaction(pool, campus) as conn:
        return int(await conn.fetchval("SELECT count(*) FROM audit_log"))


async def test_the_list_and_the_acknowledgement_route_agree(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    campus = f"campus-{uuid.uuid4().hex[:8]}"
    await import_roster(client, campus)
    mild_7 = await _raise(pool, campus, IN_7, Severity.MILD, Role.RESIDENCE_COUNSELOR)
    moderate_8 = await _raise(pool, campus, STUDENT_NO, Severity.MODERATE, Role.RESIDENCE_COUNSELOR)
    severe_8 = await _raise(pool, campus, OTHER_8, Severity.SEVERE, Role.COUNSELING_CENTER)
    # Past the counseling center the college leader owns it, and still only the center may stop it.
    climbed = escalation(
        campus,
        PSEUDONYMS.student_ref(campus, OTHER_8),
        severe_8,
        Severity.SEVERE,
        Role.COUNSELING_CENTER,
        Role.COLLEGE_LEADER,
    )
    await _apply(pool, campus, climbed, on_alert_escalated)
    every = {mild_7, moderate_8, severe_8}

    listed: dict[str, list[str]] = {}
    for sub, role in CALLERS.items():
        body = await _awaiting(client, token(SECRET, campus, sub, role))
        listed[sub] = [item["alert_id"] for item in body["items"]]
        for alert in every:
            allowed = await _may_acknowledge(pool, campus, sub, role, alert)
            held_below = alert in (mild_7, moderate_8) and role.tier != COUNSELOR_TIER
            assert (alert in listed[sub]) == (allowed and not held_below), (sub, alert)

    assert listed[COUNSELOR_8] == [moderate_8]
    assert listed[COUNSELOR_7] == [mild_7]
    # The teacher and the center may stop the counselors' alerts, which wait for the
    # counselors; past the center the leader's alert still waits for the center.
    assert listed[TEACHER] == []
    assert listed[CENTER] == [severe_8]
    assert listed[LEADER] == []

    # What it says of each: the owner's rung, how long it waited, when it escalates next.
    center = await _awaiting(client, token(SECRET, campus, CENTER, Role.COUNSELING_CENTER))
    top = center["items"][0]
    assert (top["severity"], top["owner_role"], top["escalation_level"]) == (
        "severe",
        "college_leader",
        1,
    )
    assert top["waiting_seconds"] >= 0
    assert top["overdue"] is False
    assert top["escalates_at"] > center["now"]

    # The badge counts what the list holds, and reading the count audits no one.
    audited = await _audit_rows(pool, campus)
    for sub, role in CALLERS.items():
        count = await client.get(
            "/v1/alerts/awaiting-me/count", headers=token(SECRET, campus, sub, role)
        )
        assert count.status_code == 200, count.text
        assert count.json() == {"total": len(listed[sub]), "overdue": 0}
    assert await _audit_rows(pool, campus) == audited

    # The route refuses what the list left out...
    counselor = token(SECRET, campus, COUNSELOR_8, Role.RESIDENCE_COUNSELOR)
    refused(
        await client.post(f"/v1/alerts/{severe_8}/acknowledgement", headers=counselor),
        403,
        "acknowledge_needs_owner_tier",
    )
    refused(
        await client.post(f"/v1/alerts/{mild_7}/acknowledgement", headers=counselor),
        403,
        "acknowledge_forbidden",
    )
    # ...and what it listed is acknowledged, and leaves every list.
    ack = await client.post(f"/v1/alerts/{moderate_8}/acknowledgement", headers=counselor)
    assert ack.status_code == 200, ack.text
    assert (await _awaiting(client, counselor))["items"] == []
    center_token = token(SECRET, campus, CENTER, Role.COUNSELING_CENTER)
    assert [i["alert_id"] for i in (await _awaiting(client, center_token))["items"]] == [severe_8]


async def test_those_who_work_no_cases_are_refused_the_list(client: httpx.AsyncClient) -> None:
    campus = f"campus-{uuid.uuid4().hex[:8]}"
    for path in ("/v1/alerts/awaiting-me", "/v1/alerts/awaiting-me/count"):
        for sub, role in (("A001", Role.CAMPUS_ADMIN), (STUDENT_NO, Role.DORM_LEADER)):
            response = await client.get(path, headers=token(SECRET, campus, sub, role))
            assert response.status_code == 403, response.text
        assert (await client.get(path)).status_code == 401
