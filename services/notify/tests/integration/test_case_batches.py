"""The cases consumer's batches during a census: routine case events step aside while
critical alerts are under way, for a moment at a time; consent decisions, acknowledgements and
erasures never wait, and every event keeps its order."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from notify_delivery import CAMPUS, rows
from notify_handlers import consume_alert, raised, record, setup
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events.casework import (
    AlertAcknowledged,
    CaseOpened,
    FamilyContactDecided,
    FamilyContactDecision,
    StudentErased,
)
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_contracts.vocabulary import Role, Severity
from shouwang_notify.container import Notify
from shouwang_notify.entrypoints.consumers import (
    CASE_EVENTS_PER_TRANSACTION,
    decode_case_event,
    on_case_batch,
    routine_only,
)
from shouwang_notify.service_layer.precedence import Precedence

pytestmark = pytest.mark.integration


def opened(student_ref: str, owner_ref: str | None = None) -> Envelope[Any]:
    event = CaseOpened(
        case_id=str(uuid.uuid4()),
        student_ref=student_ref,
        severity=Severity.CRITICAL,
        owner_ref=owner_ref,
        owner_role=Role.COUNSELING_CENTER,
        opened_at=datetime.now(UTC),
    )
    decoded = decode_case_event(record(event, student_ref))
    assert decoded is not None
    return decoded


def withdrawn(case_id: str, student_ref: str) -> Envelope[Any]:
    event = FamilyContactDecided(
        case_id=case_id,
        student_ref=student_ref,
        decision=FamilyContactDecision.WITHDRAWN,
        decided_by_ref="per_center",
        decided_by_role=Role.COUNSELING_CENTER,
        decided_at=datetime.now(UTC),
    )
    decoded = decode_case_event(record(event, student_ref))
    assert decoded is not None
    return decoded


@contextlib.asynccontextmanager
async def critical_alerts_keep_coming(precedence: Precedence) -> AsyncIterator[None]:
    """Critical alerts land without end: precedence is renewed every few milliseconds."""

    async def land() -> None:
        while True:
            precedence.hold()
            await asyncio.sleep(0.01)

    landing = asyncio.create_task(land())
    try:
        yield
    finally:
        landing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await landing


def test_only_notices_that_go_out_in_a_bundle_later_are_routine() -> None:
    student_ref = "stu_x"
    case = opened(student_ref)
    assert routine_only([case, None])
    assert not routine_only([case, withdrawn(str(uuid.uuid4()), student_ref)])
    for urgent in (
        AlertAcknowledged(
            alert_id=str(uuid.uuid4()),
            case_id=str(uuid.uuid4()),
            student_ref=student_ref,
            acknowledged_by_ref="per_x",
            acknowledged_by_role=Role.COUNSELING_CENTER,
            acknowledged_at=datetime.now(UTC),
        ),
        StudentErased(student_ref=student_ref, erased_at=datetime.now(UTC)),
    ):
        assert not routine_only([case, decode_case_event(record(urgent, student_ref))])


async def test_routine_case_events_step_aside_while_a_critical_alert_is_under_way(
    notify: Notify, pseudonyms: Pseudonymizer
) -> None:
    student_ref = await setup(notify, pseudonyms)
    notify.planner.precedence = Precedence(seconds=600)
    notify.planner.precedence.hold()
    owner = pseudonyms.person_ref(CAMPUS, "T3001")
    batch = [opened(student_ref, owner), opened(student_ref, owner)]
    applying = asyncio.create_task(on_case_batch(notify, batch))
    await asyncio.sleep(0.2)
    assert not applying.done()
    assert await rows(notify.pool, "SELECT id FROM bundle_items") == []
    # The urgent planners found nothing more to plan: the case events go on at once.
    notify.planner.precedence.release()
    assert await asyncio.wait_for(applying, 30) == ["applied", "applied"]
    assert len(await rows(notify.pool, "SELECT id FROM bundle_items")) == 2


async def test_a_lone_case_event_never_waits_so_a_failed_batch_replayed_one_by_one_cannot_stall(
    notify: Notify, pseudonyms: Pseudonymizer
) -> None:
    student_ref = await setup(notify, pseudonyms)
    notify.planner.precedence = Precedence(seconds=600)
    notify.planner.precedence.hold()
    lone = [opened(student_ref, pseudonyms.person_ref(CAMPUS, "T3001"))]
    assert await asyncio.wait_for(on_case_batch(notify, lone), 30) == ["applied"]
    assert notify.planner.precedence.held


async def test_a_routine_notice_still_goes_while_critical_alerts_keep_coming(
    notify: Notify, pseudonyms: Pseudonymizer
) -> None:
    """Held back a moment at a time, never stopped: a census's case notices are queued while
    critical alerts go on landing without a pause."""
    student_ref = await setup(notify, pseudonyms)
    precedence = notify.planner.precedence = Precedence(seconds=0.2)
    owner = pseudonyms.person_ref(CAMPUS, "T3001")
    # More events than one transaction takes: every slice is applied, in order.
    batch = [opened(student_ref, owner) for _ in range(CASE_EVENTS_PER_TRANSACTION + 5)]
    async with critical_alerts_keep_coming(precedence):
        outcomes = await asyncio.wait_for(on_case_batch(notify, batch), 30)
        assert precedence.held  # still coming: the notices did not wait for the end of them
    assert outcomes == ["applied"] * len(batch)
    items = await rows(notify.pool, "SELECT source_event_id FROM bundle_items ORDER BY id")
    assert [r["source_event_id"] for r in items] == [e.id for e in batch]


async def test_a_withdrawal_never_waits_for_critical_alerts_nor_overtakes_its_case(
    notify: Notify, pseudonyms: Pseudonymizer
) -> None:
    """A consent withdrawn during a burst is applied as soon as it is read, behind the case
    events before it, and stops the family messages already queued."""
    student_ref = await setup(notify, pseudonyms)
    precedence = notify.planner.precedence = Precedence(seconds=600)
    case = opened(student_ref)
    consent = decode_case_event(
        record(
            FamilyContactDecided(
                case_id=case.data.case_id,
                student_ref=student_ref,
                decision=FamilyContactDecision.GIVEN,
                decided_by_ref="per_center",
                decided_by_role=Role.COUNSELING_CENTER,
                decided_at=datetime.now(UTC),
            ),
            student_ref,
        )
    )
    assert await on_case_batch(notify, [case, consent]) == ["applied", "applied"]
    await consume_alert(notify, record(raised(student_ref, Severity.CRITICAL), student_ref))
    family = "SELECT status FROM deliveries WHERE recipient_kind = 'family'"
    assert {r["status"] for r in await rows(notify.pool, family)} == {"pending"}
    async with critical_alerts_keep_coming(precedence):
        # Held for ten minutes, renewed: a batch that had to wait would not end in 30 s.
        batch = [opened(student_ref), withdrawn(case.data.case_id, student_ref)]
        assert await asyncio.wait_for(on_case_batch(notify, batch), 30) == ["applied"] * 2
        assert precedence.held
    assert {r["status"] for r in await rows(notify.pool, family)} == {"cancelled"}
