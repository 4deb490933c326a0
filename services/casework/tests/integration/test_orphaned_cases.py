"""No case stays with someone who left: a snapshot staff import that takes a case's owner off
the roster hands the open case, in its own transaction, to whoever holds the owner role for
the student now (`case.assigned`, which notify turns into a notice to the new owner), or
leaves it unowned in the queue (`case.owner_cleared`: notify tells the counseling center). Closed cases, incremental imports and dry runs change nothing.
Real PostgreSQL; warnings enter through the consumers' service functions."""

from __future__ import annotations

import json
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from shouwang_casework.adapters.db import campus_transaction
from shouwang_casework.service_layer.handover import OWNER_OFF_ROSTER
from shouwang_contracts.events import CaseAssigned, CaseOwnerCleared, FollowUpUpdated
from shouwang_contracts.vocabulary import Role, Severity

sys.path.insert(0, str(Path(__file__).parent))  # the shared helpers next to this file
from cases_support import (
    CENTER,
    COUNSELOR_8,
    PSEUDONYMS,
    SAMPLES,
    SECRET,
    STUDENT_NO,
    deliver,
    import_roster,
    outbox_events,
    token,
    warning,
)

pytestmark = pytest.mark.integration

STAFF = (SAMPLES / "roster_staff.csv").read_text("utf-8")
# The 8号楼 counselor, who owns the sample student's case.
LEAVER_LINE = "T1002,测试辅导员乙,公寓辅导员,楼栋,8号楼\n"
SUCCESSOR = "T1009"
SUCCESSOR_LINE = f"{SUCCESSOR},测试辅导员丙,公寓辅导员,楼栋,8号楼\n"
WITHOUT_LEAVER = STAFF.replace(LEAVER_LINE, "")
WITH_SUCCESSOR = WITHOUT_LEAVER + SUCCESSOR_LINE


async def campus_with_a_case(client: httpx.AsyncClient, pool: asyncpg.Pool) -> tuple[str, str]:
    """A campus on the sample rosters and the student's open case, owned by the 8号楼
    counselor: (campus_id, case_id)."""
    campus = f"campus-{uuid.uuid4().hex[:8]}"
    await import_roster(client, campus)
    student = PSEUDONYMS.student_ref(campus, STUDENT_NO)
    w = warning(campus, student, Severity.MODERATE, Role.RESIDENCE_COUNSELOR)
    await deliver(pool, campus, w)
    case = await case_row(pool, campus)
    assert case["owner_ref"] == PSEUDONYMS.person_ref(campus, COUNSELOR_8)
    return campus, str(case["case_id"])


async def schedule_follow_up(client: httpx.AsyncClient, campus: str, case_id: str) -> str:
    """A follow-up of the case, the owner's own (due in a week)."""
    due = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    response = await client.post(
        f"/v1/cases/{case_id}/follow-ups",
        json={"due_at": due},
        headers=token(SECRET, campus, COUNSELOR_8, Role.RESIDENCE_COUNSELOR),
    )
    assert response.status_code in (200, 201), response.text
    follow_up_id: str = response.json()["follow_up_id"]
    return follow_up_id


async def follow_up_row(pool: asyncpg.Pool, campus: str, follow_up_id: str) -> asyncpg.Record:
    async with campus_transaction(pool, campus) as conn:
        row = await conn.fetchrow(
            "SELECT * FROM follow_ups WHERE follow_up_id = $1", uuid.UUID(follow_up_id)
        )
    assert row is not None
    return row


async def case_row(pool: asyncpg.Pool, campus: str) -> asyncpg.Record:
    async with campus_transaction(pool, campus) as conn:
        row = await conn.fetchrow("SELECT * FROM cases")
    assert row is not None
    return row


async def history(pool: asyncpg.Pool, campus: str) -> list[dict[str, Any]]:
    async with campus_transaction(pool, campus) as conn:
        rows = await conn.fetch(
            "SELECT kind, actor_ref, actor_role, detail FROM case_history ORDER BY seq"
        )
    return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]


async def upload_staff(
    client: httpx.AsyncClient, campus: str, text: str, **params: Any
) -> dict[str, int]:
    response = await client.post(
        "/v1/roster/staff",
        params=params,
        files={"file": ("staff.csv", text.encode(), "text/csv")},
        headers=token(SECRET, campus, "A001", Role.CAMPUS_ADMIN),
    )
    assert response.status_code == 200, response.text
    counts: dict[str, int] = response.json()["counts"]
    return counts


def assignments(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["data"] for e in events if e["type"] == CaseAssigned.EVENT_TYPE]


async def test_a_case_owned_by_someone_who_left_goes_to_who_is_responsible_now(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    campus, case_id = await campus_with_a_case(client, pool)
    follow_up_id = await schedule_follow_up(client, campus, case_id)
    before = await case_row(pool, campus)
    leaver = PSEUDONYMS.person_ref(campus, COUNSELOR_8)
    successor = PSEUDONYMS.person_ref(campus, SUCCESSOR)

    counts = await upload_staff(client, campus, WITH_SUCCESSOR)

    assert (counts["cases_handed_over"], counts["cases_unowned"]) == (1, 0)
    after = await case_row(pool, campus)
    assert (after["owner_ref"], after["owner_role"]) == (successor, "residence_counselor")
    assert after["version"] == before["version"] + 1
    *_, last, follow_up_moved = await history(pool, campus)
    assert (last["kind"], last["actor_ref"], last["actor_role"]) == (
        "assigned",
        "system:casework",
        "system",
    )
    assert last["detail"] == {
        "owner_ref": successor,
        "owner_role": "residence_counselor",
        "previous_owner_ref": leaver,
        "reason": OWNER_OFF_ROSTER,
    }
    # The follow-up the leaver was to make falls due for the new owner, when it was due.
    assert follow_up_moved["detail"] == {"follow_up_id": follow_up_id, "reason": OWNER_OFF_ROSTER}
    follow_up = await follow_up_row(pool, campus, follow_up_id)
    assert (follow_up["assignee_ref"], follow_up["status"]) == (successor, "scheduled")
    # The usual event, through the outbox: notify tells the new owner on it.
    *_, assigned = assignments(await outbox_events(pool, campus))
    assert (assigned["case_id"], assigned["owner_ref"], assigned["previous_owner_ref"]) == (
        case_id,
        successor,
        leaver,
    )
    # The new owner finds it as theirs.
    mine = await client.get(
        "/v1/cases",
        params={"mine": "true"},
        headers=token(SECRET, campus, SUCCESSOR, Role.RESIDENCE_COUNSELOR),
    )
    assert [c["case_id"] for c in mine.json()["items"]] == [case_id]


async def test_a_case_nobody_can_take_over_shows_unowned(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    campus, case_id = await campus_with_a_case(client, pool)
    follow_up_id = await schedule_follow_up(client, campus, case_id)
    events_before = len(await outbox_events(pool, campus))

    counts = await upload_staff(client, campus, WITHOUT_LEAVER)

    assert (counts["cases_handed_over"], counts["cases_unowned"]) == (0, 1)
    after = await case_row(pool, campus)
    # The rung stays: whoever takes it up knows it is a residence counselor's case.
    assert (after["owner_ref"], after["owner_role"]) == (None, "residence_counselor")
    *_, last, _ = await history(pool, campus)
    # Nobody is to make the follow-up until someone takes the case up.
    assert (await follow_up_row(pool, campus, follow_up_id))["assignee_ref"] is None
    assert (last["kind"], last["actor_ref"], last["detail"]["reason"]) == (
        "owner_cleared",
        "system:casework",
        OWNER_OFF_ROSTER,
    )
    assert last["detail"]["previous_owner_ref"] == PSEUDONYMS.person_ref(campus, COUNSELOR_8)
    unowned = await client.get(
        "/v1/cases",
        params={"unowned": "true"},
        headers=token(SECRET, campus, CENTER, Role.COUNSELING_CENTER),
    )
    assert [c["case_id"] for c in unowned.json()["items"]] == [case_id]
    # No owner to tell: the event says nobody owns it (notify tells the counseling center).
    events = (await outbox_events(pool, campus))[events_before:]
    assert not assignments(events)
    (cleared,) = [e["data"] for e in events if e["type"] == CaseOwnerCleared.EVENT_TYPE]
    assert (cleared["case_id"], cleared["previous_owner_ref"], cleared["reason"]) == (
        case_id,
        PSEUDONYMS.person_ref(campus, COUNSELOR_8),
        OWNER_OFF_ROSTER,
    )


async def test_an_incremental_import_hands_over_nothing(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    campus, _ = await campus_with_a_case(client, pool)
    before = await case_row(pool, campus)

    counts = await upload_staff(client, campus, WITH_SUCCESSOR, mode="upsert")

    # An upsert ends no assignment: the owner is still on the roster.
    assert (counts["cases_handed_over"], counts["cases_unowned"]) == (0, 0)
    after = await case_row(pool, campus)
    assert (after["owner_ref"], after["version"]) == (before["owner_ref"], before["version"])


async def test_a_dry_run_counts_the_handovers_and_changes_nothing(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    campus, _ = await campus_with_a_case(client, pool)
    before = await case_row(pool, campus)
    events_before = await outbox_events(pool, campus)
    history_before = await history(pool, campus)

    counts = await upload_staff(client, campus, WITH_SUCCESSOR, dry_run="true")

    assert (counts["cases_handed_over"], counts["cases_unowned"]) == (1, 0)
    assert dict(await case_row(pool, campus)) == dict(before)
    assert await outbox_events(pool, campus) == events_before
    assert await history(pool, campus) == history_before
    # The roster itself is unchanged too: the leaver still covers 8号楼, and a real import
    # finds the same handover to make.
    assert (await upload_staff(client, campus, WITH_SUCCESSOR))["cases_handed_over"] == 1


async def test_a_closed_case_stays_with_who_closed_it(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    campus, case_id = await campus_with_a_case(client, pool)
    counselor = token(SECRET, campus, COUNSELOR_8, Role.RESIDENCE_COUNSELOR)
    for step in (
        {"to_state": "monitoring"},
        {"to_state": "follow_up"},
        {"to_state": "closed", "outcome": "relieved"},
    ):
        moved = await client.post(f"/v1/cases/{case_id}/transitions", json=step, headers=counselor)
        assert moved.status_code == 200, moved.text
    closed = await case_row(pool, campus)

    counts = await upload_staff(client, campus, WITH_SUCCESSOR)

    assert (counts["cases_handed_over"], counts["cases_unowned"]) == (0, 0)
    assert dict(await case_row(pool, campus)) == dict(closed)


async def test_a_counselor_moved_to_another_building_hands_the_case_over(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    campus, _ = await campus_with_a_case(client, pool)
    moved = WITH_SUCCESSOR + LEAVER_LINE.replace("8号楼", "9号楼")

    counts = await upload_staff(client, campus, moved)

    # Still on the roster, so nothing of theirs ends (people_unlisted), but no longer the
    # student's counselor: the case goes to who is.
    assert (counts["people_unlisted"], counts["cases_handed_over"]) == (0, 1)
    after = await case_row(pool, campus)
    assert after["owner_ref"] == PSEUDONYMS.person_ref(campus, SUCCESSOR)


async def test_an_owner_who_still_covers_the_student_keeps_the_case(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    campus, _ = await campus_with_a_case(client, pool)
    before = await case_row(pool, campus)
    # The building assignment ends, but the class one still covers the student (a residence
    # counselor may hold a class, not a college: ROLE_GRANTS).
    widened = WITH_SUCCESSOR + LEAVER_LINE.replace("楼栋,8号楼", "班级,软件2401")

    counts = await upload_staff(client, campus, widened)

    assert (counts["removed"], counts["cases_handed_over"], counts["cases_unowned"]) == (1, 0, 0)
    after = await case_row(pool, campus)
    assert (after["owner_ref"], after["version"]) == (before["owner_ref"], before["version"])


# The campus psychology teacher, who covers the whole campus but owns no case here.
TEACHER_LINE = "T2001,测试心理教师甲,社区心理教师,校区,主校区\n"
TEACHER = "T2001"


async def schedule_follow_up_for(
    client: httpx.AsyncClient, campus: str, case_id: str, assignee_no: str
) -> str:
    """A follow-up of the case the owner sets for someone else to make."""
    due = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    response = await client.post(
        f"/v1/cases/{case_id}/follow-ups",
        json={"due_at": due, "assignee_ref": PSEUDONYMS.person_ref(campus, assignee_no)},
        headers=token(SECRET, campus, COUNSELOR_8, Role.RESIDENCE_COUNSELOR),
    )
    assert response.status_code in (200, 201), response.text
    follow_up_id: str = response.json()["follow_up_id"]
    return follow_up_id


async def test_a_follow_up_assigned_to_someone_who_left_goes_to_the_case_owner(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    campus, case_id = await campus_with_a_case(client, pool)
    theirs = await schedule_follow_up_for(client, campus, case_id, TEACHER)
    owners = await schedule_follow_up(client, campus, case_id)
    # Already flagged as missed once: handing it over must not flag it again.
    async with campus_transaction(pool, campus) as conn:
        await conn.execute(
            "UPDATE follow_ups SET reminded_at = now() WHERE follow_up_id = $1",
            uuid.UUID(theirs),
        )
    before = await follow_up_row(pool, campus, theirs)
    case_before = await case_row(pool, campus)
    events_before = len(await outbox_events(pool, campus))
    without_teacher = STAFF.replace(TEACHER_LINE, "")
    assert without_teacher != STAFF

    rehearsed = await upload_staff(client, campus, without_teacher, dry_run="true")

    assert rehearsed["follow_ups_handed_over"] == 1
    assert dict(await follow_up_row(pool, campus, theirs)) == dict(before)

    counts = await upload_staff(client, campus, without_teacher)

    assert (counts["cases_handed_over"], counts["cases_unowned"]) == (0, 0)
    assert counts["follow_ups_handed_over"] == 1
    owner = PSEUDONYMS.person_ref(campus, COUNSELOR_8)
    after = await follow_up_row(pool, campus, theirs)
    assert (after["assignee_ref"], after["status"]) == (owner, "scheduled")
    assert (after["due_at"], after["reminded_at"]) == (before["due_at"], before["reminded_at"])
    assert after["version"] == before["version"] + 1
    # The owner's own follow-up and the case's owner are as they were.
    assert (await follow_up_row(pool, campus, owners))["assignee_ref"] == owner
    case_after = await case_row(pool, campus)
    assert case_after["owner_ref"] == case_before["owner_ref"] == owner
    *_, moved = await history(pool, campus)
    assert (moved["kind"], moved["actor_ref"], moved["detail"]) == (
        "follow_up_moved",
        "system:casework",
        {"follow_up_id": theirs, "reason": OWNER_OFF_ROSTER},
    )
    events = (await outbox_events(pool, campus))[events_before:]
    (updated,) = [e["data"] for e in events if e["type"] == FollowUpUpdated.EVENT_TYPE]
    assert (updated["follow_up_id"], updated["status"]) == (theirs, "scheduled")


async def test_a_follow_up_of_someone_who_left_on_an_unowned_case_goes_to_nobody(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    campus, case_id = await campus_with_a_case(client, pool)
    theirs = await schedule_follow_up_for(client, campus, case_id, TEACHER)
    owners = await schedule_follow_up(client, campus, case_id)
    # The owner and the teacher leave together, nobody takes 8号楼 over.
    without_both = WITHOUT_LEAVER.replace(TEACHER_LINE, "")

    counts = await upload_staff(client, campus, without_both)

    assert (counts["cases_unowned"], counts["follow_ups_handed_over"]) == (1, 2)
    assert (await case_row(pool, campus))["owner_ref"] is None
    for follow_up_id in (theirs, owners):
        row = await follow_up_row(pool, campus, follow_up_id)
        assert (row["assignee_ref"], row["status"]) == (None, "scheduled")


async def test_a_follow_up_of_someone_who_still_covers_the_student_stays_theirs(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    campus, case_id = await campus_with_a_case(client, pool)
    theirs = await schedule_follow_up_for(client, campus, case_id, TEACHER)
    # The campus assignment ends, a college one still covers the student.
    narrowed = STAFF.replace(TEACHER_LINE, TEACHER_LINE.replace("校区,主校区", "学院,信息工程学院"))

    counts = await upload_staff(client, campus, narrowed)

    assert (counts["removed"], counts["follow_ups_handed_over"]) == (1, 0)
    teacher = PSEUDONYMS.person_ref(campus, TEACHER)
    assert (await follow_up_row(pool, campus, theirs))["assignee_ref"] == teacher
