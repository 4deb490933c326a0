"""The whole loop over HTTP on real PostgreSQL: every guard refuses what it must.

Warnings enter through the same service functions the Kafka consumers call (the Kafka path
itself is proven in test_loop_kafka.py); the roster comes in through records' import.
"""

from __future__ import annotations

import json
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest
from shouwang_casework.adapters.db import campus_transaction
from shouwang_contracts.vocabulary import Role, Severity

sys.path.insert(0, str(Path(__file__).parent))  # the shared helpers next to this file
from cases_support import (
    CENTER,
    COUNSELOR_8,
    PSEUDONYMS,
    SECRET,
    STUDENT_NO,
    TEACHER,
    deliver,
    import_roster,
    outbox_events,
    refused,
    token,
    warning,
)

pytestmark = pytest.mark.integration


async def test_the_whole_loop_with_every_guard(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    campus = f"campus-{uuid.uuid4().hex[:8]}"
    await import_roster(client, campus)
    student = PSEUDONYMS.student_ref(campus, STUDENT_NO)
    counselor = token(SECRET, campus, COUNSELOR_8, Role.RESIDENCE_COUNSELOR)
    teacher = token(SECRET, campus, TEACHER, Role.COMMUNITY_PSYCH_TEACHER)
    first = warning(campus, student, Severity.MODERATE, Role.RESIDENCE_COUNSELOR)
    await deliver(pool, campus, first)

    # The 8号楼 counselor owns it and sees it in the queue.
    queue = (await client.get("/v1/cases", headers=counselor)).json()
    assert queue["total"] == 1
    case = queue["items"][0]
    case_id = case["case_id"]
    assert case["owner_ref"] == PSEUDONYMS.person_ref(campus, COUNSELOR_8)
    assert (case["severity"], case["state"], case["unacknowledged_alerts"]) == (
        "moderate",
        "open",
        1,
    )
    mine = (await client.get("/v1/cases", params={"mine": "true"}, headers=counselor)).json()
    assert mine["total"] == 1

    # No shortcut to closed; intervention needs what was done (field named, zh-CN by default).
    shortcut = refused(
        await client.post(
            f"/v1/cases/{case_id}/transitions",
            json={"to_state": "closed", "outcome": "relieved"},
            headers=counselor,
        ),
        409,
        "transition_not_allowed",
    )
    assert "“发现”" in shortcut["detail"]
    assert "“结案”" in shortcut["detail"]
    assert "监控" in shortcut["detail"]  # where the case may go instead
    body = refused(
        await client.post(
            f"/v1/cases/{case_id}/transitions", json={"to_state": "intervention"}, headers=counselor
        ),
        422,
        "action_taken_required",
    )
    assert body["errors"][0]["field"] == "action_taken"
    assert body["title"] == "请求内容未通过校验"
    english = await client.post(
        f"/v1/cases/{case_id}/transitions",
        json={"to_state": "intervention"},
        headers={**counselor, "Accept-Language": "en"},
    )
    assert english.json()["detail"] == "intervention needs what was done"
    response = await client.post(
        f"/v1/cases/{case_id}/transitions",
        json={
            "to_state": "intervention",
            "action_taken": "当面谈心，约定每日联系",
            "expected_version": case["version"],
        },
        headers=counselor,
    )
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "intervention"
    # A stale version is refused.
    refused(
        await client.post(
            f"/v1/cases/{case_id}/transitions",
            json={"to_state": "monitoring", "reason": "x", "expected_version": 1},
            headers=counselor,
        ),
        409,
        "version_conflict",
    )

    # Acknowledge the alert: ownership, triage stops escalating.
    alert_id = first.alert.data.alert_id
    ack = await client.post(f"/v1/alerts/{alert_id}/acknowledgement", headers=counselor)
    assert ack.status_code == 200, ack.text
    assert ack.json()["acknowledged_by_ref"] == PSEUDONYMS.person_ref(campus, COUNSELOR_8)

    # A severe assessment attaches to the same case and raises it.
    second = warning(campus, student, Severity.SEVERE, Role.COUNSELING_CENTER)
    await deliver(pool, campus, second)
    view = (await client.get(f"/v1/cases/{case_id}", headers=counselor)).json()
    assert view["severity"] == "severe"
    assert (await client.get("/v1/cases", headers=counselor)).json()["total"] == 1
    # The counseling center holds the severe alert's role: it now owns the case.
    assert view["owner_ref"] == PSEUDONYMS.person_ref(campus, CENTER)

    # Referral: consent declined is refused, an override needs tier 5 and a written reason.
    refer = {
        "to_state": "referred",
        "referral": {
            "destination_type": "hospital",
            "destination": "市精神卫生中心",
            "consent": "declined",
        },
    }
    refused(
        await client.post(f"/v1/cases/{case_id}/transitions", json=refer, headers=counselor),
        422,
        "consent_declined",
    )
    refer["referral"]["consent"] = "overridden"
    refused(
        await client.post(f"/v1/cases/{case_id}/transitions", json=refer, headers=counselor),
        403,
        "override_forbidden",
    )
    refused(
        await client.post(f"/v1/cases/{case_id}/transitions", json=refer, headers=teacher),
        422,
        "override_reason_required",
    )
    refer["referral"]["override_reason"] = "存在明确自伤计划，需立即就医"
    response = await client.post(f"/v1/cases/{case_id}/transitions", json=refer, headers=teacher)
    assert response.status_code == 200, response.text
    assert response.json()["referral"]["status"] == "pending"

    # Aftercare waits for the return; the return schedules a follow-up and moves on.
    refused(
        await client.post(
            f"/v1/cases/{case_id}/transitions", json={"to_state": "aftercare"}, headers=counselor
        ),
        422,
        "referral_not_returned",
    )
    too_early = refused(
        await client.post(
            f"/v1/cases/{case_id}/referral/status", json={"status": "returned"}, headers=counselor
        ),
        409,
        "referral_step_not_allowed",
    )
    assert "“待接收”" in too_early["detail"]
    assert "“已返校”" in too_early["detail"]
    assert "已接收、未接收" in too_early["detail"]  # where it may go instead
    for status in ("accepted", "returned"):
        response = await client.post(
            f"/v1/cases/{case_id}/referral/status", json={"status": status}, headers=counselor
        )
        assert response.status_code == 200, response.text
    view = response.json()
    assert view["state"] == "aftercare"
    assert [f["purpose"] for f in view["follow_ups"]] == ["referral_return"]
    follow_up_id = view["follow_ups"][0]["follow_up_id"]

    # Family-contact consent: an override without reason is refused.
    refused(
        await client.post(
            f"/v1/cases/{case_id}/family-consent", json={"decision": "overridden"}, headers=teacher
        ),
        422,
        "override_reason_required",
    )
    assert (
        await client.post(
            f"/v1/cases/{case_id}/family-consent", json={"decision": "given"}, headers=counselor
        )
    ).status_code == 201

    # Notes are sealed at rest and versioned.
    note = await client.post(
        f"/v1/cases/{case_id}/notes", json={"text": "她说最近整夜睡不着"}, headers=counselor
    )
    assert note.status_code == 201, note.text
    note_id = note.json()["note_id"]
    revised = await client.put(
        f"/v1/cases/{case_id}/notes/{note_id}",
        json={"text": "已联系家长，情况好转"},
        headers=counselor,
    )
    assert revised.json()["version"] == 2
    notes = (
        await client.get(
            f"/v1/cases/{case_id}/notes", params={"all_versions": "true"}, headers=counselor
        )
    ).json()
    assert [n["version"] for n in notes] == [1, 2]
    async with campus_transaction(pool, campus) as conn:
        stored = await conn.fetch("SELECT sealed::text AS s FROM notes")
        history_text = await conn.fetch(
            "SELECT coalesce(sealed_text::text, '') AS s FROM case_history"
        )
    assert all("睡不着" not in r["s"] and "好转" not in r["s"] for r in stored)
    assert all("谈心" not in r["s"] and "自伤计划" not in r["s"] for r in history_text)

    # The plan: versioned, counts only in the event.
    plan = {
        "expected_version": 0,
        "actions": [
            {
                "action_id": "a1",
                "kind": "talk",
                "owner_ref": None,
                "status": "done",
                "description": "每周谈话",
            },
            {
                "action_id": "a2",
                "kind": "family_contact",
                "status": "open",
                "due_at": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
            },
        ],
        "review_dates": [
            (datetime.now(UTC) - timedelta(days=2)).isoformat(),  # held by this revision
            (datetime.now(UTC) + timedelta(days=14)).isoformat(),
        ],
    }
    response = await client.put(f"/v1/cases/{case_id}/plan", json=plan, headers=counselor)
    assert response.status_code == 200, response.text
    assert (
        response.json()["version"],
        response.json()["actions_open"],
        response.json()["actions_done"],
        response.json()["actions_overdue"],
        response.json()["reviews_due"],
    ) == (1, 1, 1, 1, [])
    read = (await client.get(f"/v1/cases/{case_id}/plan", headers=counselor)).json()
    assert read["next_review_at"] == response.json()["review_dates"][1]
    assert read["updated_at"] == response.json()["updated_at"] is not None
    refused(
        await client.put(f"/v1/cases/{case_id}/plan", json=plan, headers=counselor),
        409,
        "plan_version_conflict",
    )

    # Closing a severe case: outcome, a completed follow-up, and tier 5.
    assert (
        await client.post(
            f"/v1/cases/{case_id}/transitions", json={"to_state": "follow_up"}, headers=counselor
        )
    ).status_code == 200
    refused(
        await client.post(
            f"/v1/cases/{case_id}/transitions", json={"to_state": "closed"}, headers=teacher
        ),
        422,
        "outcome_required",
    )
    no_follow_up = refused(
        await client.post(
            f"/v1/cases/{case_id}/transitions",
            json={"to_state": "closed", "outcome": "relieved"},
            headers=teacher,
        ),
        422,
        "follow_up_required",
    )
    # The field's message says what is wrong with it, not the refusal's detail again.
    assert no_follow_up["detail"] == "重度或危急个案须完成回访后方可结案"
    assert no_follow_up["errors"] == [{"field": "follow_up", "message": "该个案尚无已完成的回访"}]
    refused(
        await client.patch(
            f"/v1/cases/{case_id}/follow-ups/{follow_up_id}",
            json={"close_as": "completed"},
            headers=counselor,
        ),
        422,
        "reason_required",
    )
    refused(
        await client.patch(
            f"/v1/cases/{case_id}/follow-ups/{follow_up_id}",
            json={"close_as": "cancelled", "reason": "改期", "finding": "relieved"},
            headers=counselor,
        ),
        422,
        "finding_needs_completion",
    )
    done = await client.patch(
        f"/v1/cases/{case_id}/follow-ups/{follow_up_id}",
        json={"close_as": "completed", "reason": "返校后电话回访，情绪平稳", "finding": "relieved"},
        headers=counselor,
    )
    assert (done.json()["status"], done.json()["finding"]) == ("completed", "relieved")
    refused(
        await client.post(
            f"/v1/cases/{case_id}/transitions",
            json={"to_state": "closed", "outcome": "relieved"},
            headers=counselor,
        ),
        403,
        "close_needs_tier5",
    )
    closed = await client.post(
        f"/v1/cases/{case_id}/transitions",
        json={"to_state": "closed", "outcome": "relieved"},
        headers=teacher,
    )
    assert closed.status_code == 200, closed.text
    assert (closed.json()["state"], closed.json()["outcome"]) == ("closed", "relieved")
    assert (await client.get("/v1/cases", headers=counselor)).json()["total"] == 0

    # Reopen after closure needs a reason, and then the next warning attaches to it.
    refused(
        await client.post(
            f"/v1/cases/{case_id}/transitions", json={"to_state": "monitoring"}, headers=counselor
        ),
        422,
        "reason_required",
    )
    reopened = await client.post(
        f"/v1/cases/{case_id}/transitions",
        json={"to_state": "monitoring", "reason": "期末前情绪再度低落"},
        headers=counselor,
    )
    assert reopened.status_code == 200, reopened.text
    assert (reopened.json()["state"], reopened.json()["outcome"]) == ("monitoring", None)
    await deliver(pool, campus, warning(campus, student, Severity.MILD, Role.RESIDENCE_COUNSELOR))
    assert [
        c["case_id"] for c in (await client.get("/v1/cases", headers=counselor)).json()["items"]
    ] == [case_id]

    # History: immutable, in order, consistent with the state.
    history = (await client.get(f"/v1/cases/{case_id}/history", headers=counselor)).json()
    assert [h["seq"] for h in history] == list(range(1, len(history) + 1))
    moves = [(h["from_state"], h["to_state"]) for h in history if h["kind"] == "transitioned"]
    assert moves == [
        ("open", "intervention"),
        ("intervention", "referred"),
        ("referred", "aftercare"),
        ("aftercare", "follow_up"),
        ("follow_up", "closed"),
        ("closed", "monitoring"),
    ]
    intervention = next(h for h in history if h["to_state"] == "intervention")
    assert intervention["text"] == "当面谈心，约定每日联系"  # opened for a reader in scope
    async with campus_transaction(pool, campus) as conn:
        # The runtime role has no UPDATE on it at all; the trigger refuses even its owner.
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("UPDATE case_history SET kind = 'x'")

    # Public events: in order, pseudonymous, no free text.
    events = await outbox_events(pool, campus)
    types = [e["type"].removeprefix("shouwang.") for e in events]
    # The roster import before the case publishes the directory and who is listed.
    case_types = [t for t in types if not t.startswith(("directory.", "staff."))]
    assert case_types[0] == "case.opened"
    assert (
        events[types.index("case.opened")]["data"]["report_ids"] == first.assessment.data.report_ids
    )
    assert {
        "case.assigned",
        "alert.acknowledged",
        "case.severity_changed",
        "plan.updated",
        "case.closed",
    } <= set(case_types)
    # Referral and follow-up progress, for the outcome figures: statuses, never the destination.
    referral = [e["data"] for e in events if e["type"] == "shouwang.referral.updated"]
    assert [(r["status"], r["version"]) for r in referral] == [
        ("pending", 1),
        ("accepted", 2),
        ("returned", 3),
    ]
    assert {r["destination_type"] for r in referral} == {"hospital"}
    follow_ups = [e["data"] for e in events if e["type"] == "shouwang.follow_up.updated"]
    assert [(f["status"], f["finding"], f["version"]) for f in follow_ups] == [
        ("scheduled", None, 1),
        ("completed", "relieved", 2),
    ]
    assert "市精神卫生中心" not in json.dumps(referral, ensure_ascii=False)
    raised = next(e for e in events if e["type"] == "shouwang.case.severity_changed")
    assert raised["data"]["report_ids"] == second.assessment.data.report_ids
    text = json.dumps(
        [e for e in events if not e["type"].startswith("shouwang.directory.")], ensure_ascii=False
    )
    for secret_text in ("睡不着", "谈心", "自伤计划", "测试学生01", STUDENT_NO):
        assert secret_text not in text

    # Every read about the student is in the audit log.
    async with campus_transaction(pool, campus) as conn:
        actions = {
            r["action"]
            for r in await conn.fetch(
                "SELECT action FROM audit_log WHERE student_ref = $1", student
            )
        }
    assert {"case.read", "case.queue.read", "case.history.read", "case.notes.read"} <= actions
