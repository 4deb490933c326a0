"""What casework owes notify: family-contact decisions published (never the reason), and an
acknowledgement confirmed from a message's link recorded as that person, by the HTTP rules."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from shouwang_casework.adapters.db import campus_transaction
from shouwang_casework.domain.guards import NotPermitted
from shouwang_casework.service_layer.loop import acknowledge_alert_from_link
from shouwang_casework.service_layer.warnings import (
    on_alert_escalated,
)
from shouwang_contracts.vocabulary import Role, Severity

sys.path.insert(0, str(Path(__file__).parent))  # the shared helpers next to this file
from cases_support import (
    CENTER,
    CIPHER,
    COUNSELOR_8,
    PSEUDONYMS,
    SECRET,
    STUDENT_NO,
    TEACHER,
    deliver,
    escalation,
    import_roster,
    outbox_events,
    refused,
    token,
    warning,
)

pytestmark = pytest.mark.integration


async def a_severe_case(client: httpx.AsyncClient, pool: asyncpg.Pool) -> tuple[str, str, str, Any]:
    campus = f"campus-{uuid.uuid4().hex[:8]}"
    await import_roster(client, campus)
    student = PSEUDONYMS.student_ref(campus, STUDENT_NO)
    w = warning(campus, student, Severity.SEVERE, Role.COUNSELING_CENTER)
    await deliver(pool, campus, w)
    async with campus_transaction(pool, campus) as conn:
        case_id = str(await conn.fetchval("SELECT case_id FROM cases"))
    return campus, student, case_id, w


async def test_family_contact_decisions_are_published_without_the_reason(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    campus, student, case_id, _ = await a_severe_case(client, pool)
    counselor = token(SECRET, campus, COUNSELOR_8, Role.RESIDENCE_COUNSELOR)
    teacher = token(SECRET, campus, TEACHER, Role.COMMUNITY_PSYCH_TEACHER)
    url = f"/v1/cases/{case_id}/family-consent"
    assert (
        await client.post(url, json={"decision": "given"}, headers=counselor)
    ).status_code == 201
    assert (
        await client.post(url, json={"decision": "withdrawn"}, headers=counselor)
    ).status_code == 201
    overridden = await client.post(
        url, json={"decision": "overridden", "reason": "学生失联，需立即联系家长"}, headers=teacher
    )
    assert overridden.status_code == 201, overridden.text
    refused(
        await client.post(url, json={"decision": "overridden"}, headers=teacher),
        422,
        "override_reason_required",
    )
    events = [
        e
        for e in await outbox_events(pool, campus)
        if e["type"] == "shouwang.case.family_contact_decided"
    ]
    assert [e["data"]["decision"] for e in events] == ["given", "withdrawn", "overridden"]
    assert events[2]["data"]["decided_by_ref"] == PSEUDONYMS.person_ref(campus, TEACHER)
    assert events[2]["data"]["decided_by_role"] == "community_psych_teacher"
    assert all(e["subject"] == student and e["data"]["case_id"] == case_id for e in events)
    assert "失联" not in str(events)


async def test_a_link_acknowledgement_is_recorded_as_the_person_who_confirmed(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    campus, _, _, w = await a_severe_case(client, pool)
    alert_id = w.alert.data.alert_id
    center = PSEUDONYMS.person_ref(campus, CENTER)
    async with campus_transaction(pool, campus) as conn:
        record = await acknowledge_alert_from_link(
            conn,
            CIPHER,
            campus_id=campus,
            alert_id=alert_id,
            person_ref=center,
            role=Role.COUNSELING_CENTER,
        )
    assert record.acknowledged_at is not None
    acks = [
        e for e in await outbox_events(pool, campus) if e["type"] == "shouwang.alert.acknowledged"
    ]
    assert len(acks) == 1
    assert acks[0]["data"]["acknowledged_by_ref"] == center
    assert acks[0]["data"]["acknowledged_by_role"] == "counseling_center"
    # Confirmed twice (a redelivery): nothing more is published.
    async with campus_transaction(pool, campus) as conn:
        await acknowledge_alert_from_link(
            conn,
            CIPHER,
            campus_id=campus,
            alert_id=alert_id,
            person_ref=center,
            role=Role.COUNSELING_CENTER,
        )
    assert (
        len(
            [
                e
                for e in await outbox_events(pool, campus)
                if e["type"] == "shouwang.alert.acknowledged"
            ]
        )
        == 1
    )


async def test_a_link_of_someone_not_holding_the_role_is_refused(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    campus, _, _, w = await a_severe_case(client, pool)
    stranger = PSEUDONYMS.person_ref(campus, "T9999")
    counselor = PSEUDONYMS.person_ref(campus, COUNSELOR_8)  # holds a lower tier than the owner
    for person, role, code in (
        (stranger, Role.COUNSELING_CENTER, "link_person_not_responsible"),
        (counselor, Role.COUNSELING_CENTER, "link_person_not_responsible"),
        (counselor, Role.RESIDENCE_COUNSELOR, "acknowledge_needs_owner_tier"),
    ):
        with pytest.raises(NotPermitted) as refusal:
            async with campus_transaction(pool, campus) as conn:
                await acknowledge_alert_from_link(
                    conn,
                    CIPHER,
                    campus_id=campus,
                    alert_id=w.alert.data.alert_id,
                    person_ref=person,
                    role=role,
                )
        assert refusal.value.code == code
    assert not [
        e for e in await outbox_events(pool, campus) if e["type"] == "shouwang.alert.acknowledged"
    ]


async def test_an_alert_escalated_to_the_college_leader_cannot_be_stopped_by_a_lower_tier(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    """Graded example (bundled ladder: counselor -> teacher -> center -> college leader): the
    center let a severe alert's deadline pass and triage escalated it to the college leader,
    a role off the tier ladder. Before, an owner without a tier let any tier 4+ in scope
    acknowledge, so a residence counselor could stop an escalation one level after only the
    center could. Acknowledging stops escalation, so the bar must never drop as the alert
    climbs (DESIGN 1: escalate "until a qualified person owns it"; the policy's ladder,
    after 教思政厅函〔2021〕10号, puts clinical ownership of severe alerts with the center)."""
    campus, student, _, w = await a_severe_case(client, pool)
    envelope = escalation(
        campus,
        student,
        w.alert.data.alert_id,
        Severity.SEVERE,
        Role.COUNSELING_CENTER,
        Role.COLLEGE_LEADER,
    )
    async with campus_transaction(pool, campus) as conn:
        await on_alert_escalated(conn, envelope, CIPHER)

    url = f"/v1/alerts/{w.alert.data.alert_id}/acknowledgement"
    counselor = token(SECRET, campus, COUNSELOR_8, Role.RESIDENCE_COUNSELOR)
    teacher = token(SECRET, campus, TEACHER, Role.COMMUNITY_PSYCH_TEACHER)
    for lower in (counselor, teacher):
        body = refused(await client.post(url, headers=lower), 403, "acknowledge_needs_owner_tier")
        assert "心理健康教育与咨询中心" in body["detail"]
    assert not [
        e for e in await outbox_events(pool, campus) if e["type"] == "shouwang.alert.acknowledged"
    ]
    center = token(SECRET, campus, CENTER, Role.COUNSELING_CENTER)
    accepted = await client.post(url, headers=center)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["acknowledged_by_ref"] == PSEUDONYMS.person_ref(campus, CENTER)
