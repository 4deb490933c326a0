"""One handler, in memory (a poison report goes to the dead-letter topic with its reason), the
census lane's duty cycle, and what triage takes from the cases topic."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events.casework import AlertAcknowledged, CaseOpened
from shouwang_contracts.kafka import PoisonEvent
from shouwang_contracts.topics import REPORTS, dead_letter_topic
from shouwang_contracts.vocabulary import Role, Severity
from shouwang_triage.config import TriageSettings
from shouwang_triage.container import Triage
from shouwang_triage.domain.policy import GradingPolicy
from shouwang_triage.entrypoints.consumers import (
    DutyCycle,
    UrgentFirst,
    case_event,
    register_consumers,
)


async def test_a_poison_report_is_dead_lettered_with_its_reason(policy: GradingPolicy) -> None:
    broker = KafkaBroker()
    settings = TriageSettings(consumers="reports", group_prefix="unit")
    # The poison path never reaches the database or the relay.
    triage = Triage(settings=settings, policy=policy, pool=None, broker=broker, relay=None)  # type: ignore[arg-type]
    register_consumers(triage)
    dead: list[dict[str, Any]] = []

    @broker.subscriber(dead_letter_topic(REPORTS))
    async def on_dead_letter(message: KafkaMessage) -> None:
        dead.append(dict(message.headers))

    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(b'{"id": "x", "type": "shouwang.report.submitted"}', REPORTS)

    [headers] = dead
    assert headers["x-dlq-source-topic"] == REPORTS
    assert headers["x-dlq-reason"].startswith("not a valid shouwang.report.submitted")
    assert headers["x-dlq-consumer"] == "unit." + REPORTS


async def test_the_census_rests_so_it_is_busy_at_most_its_duty_cycle(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rests: list[float] = []

    async def record(seconds: float) -> None:
        rests.append(seconds)

    monkeypatch.setattr(asyncio, "sleep", record)
    await DutyCycle(0.5).rest_after(0.2)  # as long again as the batch took
    await DutyCycle(0.25).rest_after(0.1)  # three times as long
    await DutyCycle(1.0).rest_after(0.2)  # flat out: no rest
    await DutyCycle(0.5).rest_after(0.0)
    await DutyCycle(0.1).rest_after(60.0)  # a stalled batch: the rest is capped
    assert rests == [pytest.approx(0.2), pytest.approx(0.3), 5.0]


@pytest.mark.parametrize("share", ["0", "-0.5", "1.5"])
def test_a_duty_cycle_outside_0_to_1_is_refused(
    share: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIAGE_CENSUS_DUTY_CYCLE", share)
    with pytest.raises(ValidationError, match="census_duty_cycle"):
        TriageSettings()


def test_the_census_duty_cycle_defaults_to_a_third() -> None:
    assert TriageSettings().census_duty_cycle == 0.33


def test_an_erasure_mark_shorter_than_the_input_topics_retention_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A mark gone while a record received before the erasure can still arrive would let that
    record's evidence and grade be kept (the input topics keep 14 days)."""
    assert TriageSettings().erasure_mark_days == 15
    assert TriageSettings(erasure_mark_days=14).erasure_mark_days == 14
    monkeypatch.setenv("TRIAGE_ERASURE_MARK_DAYS", "13")
    with pytest.raises(ValidationError, match="TRIAGE_ERASURE_MARK_DAYS=13"):
        TriageSettings()


def _record(envelope: Envelope[Any] | None, *, headers: bool, value: bytes | None = None) -> Any:
    return SimpleNamespace(
        value=value if envelope is None else envelope.to_bytes(),
        headers=envelope.kafka_headers() if envelope is not None and headers else [],
    )


@pytest.mark.parametrize("headers", [True, False], ids=["ce_type header", "body only"])
def test_the_cases_topic_yields_acknowledgements_and_closes_and_skips_the_rest(
    headers: bool,
) -> None:
    now = datetime.now(UTC)
    wrap = {"source": "/shouwang/casework", "campus_id": "c1", "subject": "stu_1"}
    ack = Envelope.wrap(
        AlertAcknowledged(
            alert_id="a1",
            student_ref="stu_1",
            acknowledged_by_ref="per_1",
            acknowledged_by_role=Role.RESIDENCE_COUNSELOR,
            acknowledged_at=now,
        ),
        **wrap,
    )
    opened = Envelope.wrap(
        CaseOpened(
            case_id="k1",
            student_ref="stu_1",
            severity=Severity.CRITICAL,
            owner_ref=None,
            owner_role=Role.RESIDENCE_COUNSELOR,
            opened_at=now,
        ),
        **wrap,
    )

    decoded = case_event(_record(ack, headers=headers))
    assert decoded is not None
    assert decoded.data == ack.data
    assert case_event(_record(opened, headers=headers)) is None  # triage does not use it
    with pytest.raises(PoisonEvent, match="not a JSON event"):
        case_event(_record(None, headers=False, value=b"not json"))
    with pytest.raises(PoisonEvent, match="not a JSON event"):  # a tombstone
        case_event(_record(None, headers=False, value=None))


async def test_the_census_steps_aside_only_for_reports_about_students_outside_its_batch() -> None:
    gate = UrgentFirst()
    batch, elsewhere = {("demo", "in-batch")}, [("demo", "elsewhere")]

    async def a_few_turns() -> None:
        for _ in range(5):
            await asyncio.sleep(0)

    await gate.yield_to_urgent(batch)  # nothing urgent: it goes on
    async with gate.urgent(elsewhere):
        census = asyncio.create_task(gate.yield_to_urgent(batch))
        await a_few_turns()
        assert not census.done()  # a report about someone else goes first
        # A report about a student of the batch may be waiting for the batch's locks: the
        # census goes on at once, though the other report is still being graded.
        async with gate.urgent([("demo", "in-batch")]):
            await asyncio.wait_for(census, 10)
        census = asyncio.create_task(gate.yield_to_urgent(batch))
        await a_few_turns()
        assert not census.done()
    await asyncio.wait_for(census, 10)  # the report is done: the census goes on


async def test_the_census_steps_aside_no_longer_than_its_longest_wait() -> None:
    """A report that never finishes (here: held open) may be waiting for another replica's
    census, itself stepping aside for work that waits for this one: the census goes on."""
    gate = UrgentFirst(longest_wait=0.05)
    async with gate.urgent([("demo", "elsewhere")]):
        await asyncio.wait_for(gate.yield_to_urgent({("demo", "in-batch")}), 10)
