"""The receipt consumer alone, in memory: a database outage is retried with a growing pause."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events import CaseOpened
from shouwang_contracts.topics import CASES
from shouwang_contracts.vocabulary import Role, Severity
from shouwang_intake.adapters.store import ReceiptAdvance
from shouwang_intake.entrypoints import consumers


class FlakyStore:
    """Fails while `down`, then records what it was asked to advance."""

    def __init__(self) -> None:
        self.down = True
        self.advanced: list[tuple[str, str, list[str]]] = []

    async def advance_receipts_many(self, advances: list[ReceiptAdvance]) -> list[bool]:
        if self.down:
            raise ConnectionError("database away")
        self.advanced += [(a.case_id, a.status, a.report_ids) for a in advances]
        return [True] * len(advances)


def _case_opened() -> bytes:
    return Envelope.wrap(
        CaseOpened(
            case_id="c-1",
            student_ref="s" * 26,
            severity=Severity.SEVERE,
            owner_ref=None,
            owner_role=Role.RESIDENCE_COUNSELOR,
            report_ids=["r-1"],
            opened_at=datetime.now(UTC),
        ),
        source="/shouwang/casework",
        campus_id="demo",
        subject="s" * 26,
    ).to_bytes()


async def test_a_failed_update_backs_off_more_each_time_and_resets_once_it_works(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pauses: list[float] = []

    async def no_wait(seconds: float) -> None:
        pauses.append(seconds)

    monkeypatch.setattr(asyncio, "sleep", no_wait)
    store = FlakyStore()
    broker = KafkaBroker()
    consumers.register_receipt_consumer(broker, store, group_id="unit")  # type: ignore[arg-type]
    headers: Any = {"ce_type": CaseOpened.EVENT_TYPE}

    async with TestKafkaBroker(broker) as test_broker:
        for _ in range(3):
            with pytest.raises(ConnectionError):
                await test_broker.publish(_case_opened(), CASES, headers=headers)
        store.down = False
        await test_broker.publish(_case_opened(), CASES, headers=headers)
        store.down = True
        with pytest.raises(ConnectionError):
            await test_broker.publish(_case_opened(), CASES, headers=headers)

    assert pauses == [0.5, 1.0, 2.0, 0.5]
    assert store.advanced == [("c-1", "in_progress", ["r-1"])]
