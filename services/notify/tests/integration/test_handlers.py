"""The consumers' handlers on real PostgreSQL: events in, messages queued once."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from notify_delivery import (
    CAMPUS,
    drain,
    rows,
)
from notify_handlers import (
    POLICY,
    FakeRecord,
    consume_alert,
    raised,
    record,
    setup,
)
from notify_receivers import HttpSink
from shouwang_contracts.events.casework import (
    BreakGlassOpened,
    CaseAssigned,
    CaseOpened,
    CaseOwnerCleared,
    FamilyContactDecided,
    FamilyContactDecision,
)
from shouwang_contracts.events.triage import AlertEscalated, FollowUpTask
from shouwang_contracts.kafka import PoisonEvent
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_contracts.vocabulary import FollowUp, Role, Severity
from shouwang_notify.adapters.db import worker_transaction
from shouwang_notify.adapters.templates import Templates
from shouwang_notify.container import Notify
from shouwang_notify.domain.routing import Template
from shouwang_notify.entrypoints.consumers import (
    decode_case_event,
    on_alert,
    on_case_event,
    on_case_events,
)
from shouwang_notify.service_layer.bundles import flush_bundles

pytestmark = pytest.mark.integration


async def test_alert_events_are_queued_once_per_event_id(
    notify: Notify, pseudonyms: Pseudonymizer
) -> None:
    student_ref = await setup(notify, pseudonyms)
    alert = record(raised(student_ref, Severity.SEVERE), student_ref)
    assert await consume_alert(notify, alert) == "applied"
    assert await consume_alert(notify, alert) == "duplicate"
    assert len(await rows(notify.pool, "SELECT id FROM deliveries")) == 2


async def test_a_critical_alert_landing_makes_routine_work_step_aside(
    notify: Notify, pseudonyms: Pseudonymizer
) -> None:
    student_ref = await setup(notify, pseudonyms)
    severe = record(raised(student_ref, Severity.SEVERE), student_ref)
    assert await on_alert(notify, severe) == "applied"
    assert not notify.planner.precedence.held
    critical = record(raised(student_ref, Severity.CRITICAL), student_ref)
    assert await on_alert(notify, critical) == "applied"
    assert notify.planner.precedence.held


async def test_consent_then_withdrawal_through_case_events(
    notify: Notify, pseudonyms: Pseudonymizer, http_sink: HttpSink
) -> None:
    student_ref = await setup(notify, pseudonyms)
    case_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    opened = CaseOpened(
        case_id=case_id,
        student_ref=student_ref,
        severity=Severity.SEVERE,
        owner_ref=None,
        owner_role=Role.COUNSELING_CENTER,
        opened_at=now,
    )
    await on_case_event(notify, record(opened, student_ref))
    await consume_alert(notify, record(raised(student_ref, Severity.SEVERE), student_ref))
    families = await rows(notify.pool, "SELECT id FROM deliveries WHERE recipient_kind = 'family'")
    assert families == []  # no consent yet

    def decided(decision: FamilyContactDecision, at: datetime) -> FakeRecord:
        return record(
            FamilyContactDecided(
                case_id=case_id,
                student_ref=student_ref,
                decision=decision,
                decided_by_ref="per_center",
                decided_by_role=Role.COUNSELING_CENTER,
                decided_at=at,
            ),
            student_ref,
        )

    # Consent recorded after the alert: the family hears now, once.
    await on_case_event(notify, decided(FamilyContactDecision.GIVEN, now))
    families = await rows(
        notify.pool, "SELECT status FROM deliveries WHERE recipient_kind = 'family'"
    )
    assert [r["status"] for r in families] == ["pending", "pending"]
    # Withdrawn before they went out: nothing more is sent.
    await on_case_event(
        notify, decided(FamilyContactDecision.WITHDRAWN, now + timedelta(seconds=1))
    )
    await drain(notify.dispatcher)
    families = await rows(
        notify.pool, "SELECT status FROM deliveries WHERE recipient_kind = 'family'"
    )
    assert {r["status"] for r in families} == {"cancelled"}
    assert not [r for r in http_sink.at("/sms") if r.body["to"].startswith("139")]
    # A later alert while withdrawn reaches no family either.
    await consume_alert(notify, record(raised(student_ref, Severity.CRITICAL), student_ref))
    pending = await rows(
        notify.pool,
        "SELECT id FROM deliveries WHERE recipient_kind = 'family' AND status <> 'cancelled'",
    )
    assert pending == []


async def test_case_assigned_reaches_the_new_owner_in_one_batched_message(
    notify: Notify, pseudonyms: Pseudonymizer, http_sink: HttpSink
) -> None:
    student_ref = await setup(notify, pseudonyms)
    owner = pseudonyms.person_ref(CAMPUS, "T1002")  # prefers DingTalk
    # The sample's T1002 keeps quiet hours (23:00-07:00 campus time), which would hold the
    # bundle when this runs at night there; the bundle itself is what is tested here.
    async with worker_transaction(notify.pool) as conn:
        cleared = await conn.execute(
            "UPDATE staff_contacts SET quiet_start = NULL, quiet_end = NULL"
            " WHERE campus_id = $1 AND person_ref = $2",
            CAMPUS,
            owner,
        )
    assert cleared == "UPDATE 1"
    for _ in range(3):
        assigned = CaseAssigned(
            case_id=str(uuid.uuid4()),
            student_ref=student_ref,
            owner_ref=owner,
            owner_role=Role.RESIDENCE_COUNSELOR,
            assigned_at=datetime.now(UTC),
        )
        await on_case_event(notify, record(assigned, student_ref))
    async with worker_transaction(notify.pool) as conn:
        assert await flush_bundles(conn, notify.cipher, POLICY, datetime.now(UTC)) == 1
    await drain(notify.dispatcher)
    (message,) = http_sink.at("/robot/send")
    assert "3 条个案提醒" in message.body["text"]["content"]


async def test_a_batch_of_case_events_has_the_outcome_of_the_same_events_one_by_one(
    notify: Notify, pseudonyms: Pseudonymizer
) -> None:
    """The cases consumer applies what queued up in one transaction: each event once, in
    order, those notify does not act on skipped; the same bundle as one at a time."""
    student_ref = await setup(notify, pseudonyms)
    owner = pseudonyms.person_ref(CAMPUS, "T1002")  # prefers DingTalk
    assigned = [
        record(
            CaseAssigned(
                case_id=str(uuid.uuid4()),
                student_ref=student_ref,
                owner_ref=owner,
                owner_role=Role.RESIDENCE_COUNSELOR,
                assigned_at=datetime.now(UTC),
            ),
            student_ref,
        )
        for _ in range(3)
    ]
    other = FakeRecord(json.dumps({"type": "shouwang.case.noted", "id": "x"}).encode())
    batch = [*assigned, assigned[0], other]
    outcomes = await on_case_events(notify, [decode_case_event(r) for r in batch])
    assert outcomes == ["applied", "applied", "applied", "duplicate", "skipped"]
    # Delivered again after a crash before the offset commit: every event a duplicate.
    again = await on_case_events(notify, [decode_case_event(r) for r in assigned])
    assert again == ["duplicate"] * 3
    # The three notices, each once, make one bundle for the owner (whether it goes out now or
    # after the owner's quiet hours is the dispatcher's, tested on its own).
    async with worker_transaction(notify.pool) as conn:
        assert await flush_bundles(conn, notify.cipher, POLICY, datetime.now(UTC)) == 1


async def test_a_break_the_glass_reaches_the_counseling_center_at_once_without_names(
    notify: Notify, pseudonyms: Pseudonymizer, http_sink: HttpSink
) -> None:
    """Casework announces each break-the-glass (who, whom, until when; never the reason): the
    counseling center staff responsible for the student are told at once, not in a batch."""
    student_ref = await setup(notify, pseudonyms)
    now = datetime.now(UTC)
    opened = BreakGlassOpened(
        grant_id=str(uuid.uuid4()),
        student_ref=student_ref,
        person_ref=pseudonyms.person_ref(CAMPUS, "T1001"),
        role=Role.RESIDENCE_COUNSELOR,
        granted_at=now,
        expires_at=now + timedelta(hours=2),
    )
    assert await on_case_event(notify, record(opened, student_ref)) == "applied"
    (queued,) = await rows(notify.pool, "SELECT person_ref, item, due_at FROM bundle_items")
    assert queued["person_ref"] == pseudonyms.person_ref(CAMPUS, "T3001")  # the center
    assert json.loads(queued["item"])["kind"] == "break_glass"
    assert queued["due_at"] <= datetime.now(UTC)  # at once: no batching window
    async with worker_transaction(notify.pool) as conn:
        assert await flush_bundles(conn, notify.cipher, POLICY, datetime.now(UTC)) == 1
    await drain(notify.dispatcher)
    (sms,) = http_sink.at("/sms")  # T3001 prefers SMS (samples/contacts_staff.csv)
    assert "个案提醒" in sms.body["text"]
    assert student_ref not in json.dumps(sms.body)
    for language, words in (("zh-CN", "临时查看"), ("en", "broke the glass")):
        rendered = Templates(ZoneInfo("Asia/Shanghai")).message(
            Template.CASE_NOTICES,
            language,  # type: ignore[arg-type]
            {"count": 1, "role": "counseling_center", "items": [json.loads(queued["item"])]},
        )
        assert words in rendered.body, rendered.body


async def test_a_case_left_without_owner_reaches_the_counseling_center_not_the_leaver(
    notify: Notify, pseudonyms: Pseudonymizer
) -> None:
    """A case whose owner left the roster with nobody to take it over: the counseling center
    responsible for the student is told at once, and notify forgets the leaver as owner, so
    no later notice of the case goes to someone gone."""
    student_ref = await setup(notify, pseudonyms)
    leaver = pseudonyms.person_ref(CAMPUS, "T1001")
    case_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    opened = CaseOpened(
        case_id=case_id,
        student_ref=student_ref,
        severity=Severity.MODERATE,
        owner_ref=leaver,
        owner_role=Role.RESIDENCE_COUNSELOR,
        opened_at=now,
    )
    assert await on_case_event(notify, record(opened, student_ref)) == "applied"
    await rows(notify.pool, "DELETE FROM bundle_items RETURNING id")  # the owner's notice
    cleared = CaseOwnerCleared(
        case_id=case_id,
        student_ref=student_ref,
        owner_role=Role.RESIDENCE_COUNSELOR,
        previous_owner_ref=leaver,
        reason="owner_off_roster",
        cleared_at=now,
    )
    assert await on_case_event(notify, record(cleared, student_ref)) == "applied"
    (queued,) = await rows(notify.pool, "SELECT person_ref, item, due_at FROM bundle_items")
    assert queued["person_ref"] == pseudonyms.person_ref(CAMPUS, "T3001")  # the center
    assert json.loads(queued["item"])["kind"] == "unowned"
    assert queued["due_at"] <= datetime.now(UTC)  # at once
    (case,) = await rows(notify.pool, "SELECT owner_ref, owner_role FROM cases")
    assert (case["owner_ref"], case["owner_role"]) == (None, "residence_counselor")
    for language, words in (("zh-CN", "“未分配”"), ("en", "Unassigned cases")):
        rendered = Templates(ZoneInfo("Asia/Shanghai")).message(
            Template.CASE_NOTICES,
            language,  # type: ignore[arg-type]
            {"count": 1, "role": "counseling_center", "items": [json.loads(queued["item"])]},
        )
        assert words in rendered.body, rendered.body
        assert student_ref not in rendered.body


async def test_poison_records_are_refused_as_poison(notify: Notify) -> None:
    with pytest.raises(PoisonEvent):
        await on_alert(notify, FakeRecord(b"not json"))
    bad: dict[str, Any] = {"type": "shouwang.alert.raised", "id": "x"}
    with pytest.raises(PoisonEvent):
        await on_alert(notify, FakeRecord(json.dumps(bad).encode()))
    assert await on_alert(notify, FakeRecord(json.dumps({"type": "other"}).encode())) == "skipped"


async def test_re_alerts_reach_the_on_duty_line_and_tasks_are_reminded(
    notify: Notify, pseudonyms: Pseudonymizer
) -> None:
    student_ref = await setup(notify, pseudonyms)
    now = datetime.now(UTC)
    realert = AlertEscalated(
        alert_id=str(uuid.uuid4()),
        student_ref=student_ref,
        severity=Severity.SEVERE,
        from_role=Role.COUNSELING_CENTER,
        owner_role=Role.COUNSELING_CENTER,
        ack_deadline=now + timedelta(hours=1),
        escalation_level=3,
        missed_deadline=now,
        escalated_at=now,
        realert_attempt=2,
        notify_on_duty=True,
        follow_up_tasks=[
            FollowUpTask(
                task=FollowUp.CSSRS_SCREEN,
                assigned_role=Role.COUNSELING_CENTER,
                due_at=now + timedelta(hours=24),
            )
        ],
    )
    assert await consume_alert(notify, record(realert, student_ref)) == "applied"
    kinds = await rows(notify.pool, "SELECT recipient_kind, context FROM deliveries ORDER BY id")
    assert {r["recipient_kind"] for r in kinds} == {"staff", "on_duty"}
    owner_context = json.loads(next(r["context"] for r in kinds if r["recipient_kind"] == "staff"))
    assert owner_context["re_alert"] is True
    assert owner_context["attempt"] == 2
    assert owner_context["follow_ups"][0]["task"] == "cssrs_screen"
    (reminder,) = await rows(notify.pool, "SELECT item, due_at FROM bundle_items")
    assert json.loads(reminder["item"])["kind"] == "follow_up_due"
