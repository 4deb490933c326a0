"""One handler, in memory: a poison report goes to the dead-letter topic with its reason."""

from __future__ import annotations

from typing import Any

from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from shouwang_contracts.topics import REPORTS, dead_letter_topic
from shouwang_triage.config import TriageSettings
from shouwang_triage.domain.policy import GradingPolicy
from shouwang_triage.entrypoints.consumers import Triage, register_consumers


async def test_a_poison_report_is_dead_lettered_with_its_reason(policy: GradingPolicy) -> None:
    broker = KafkaBroker()
    settings = TriageSettings(consumers="reports", group_prefix="unit")
    # The poison path never reaches the database or the relay.
    triage = Triage(broker=broker, pool=None, policy=policy, relay=None, settings=settings)  # type: ignore[arg-type]
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
