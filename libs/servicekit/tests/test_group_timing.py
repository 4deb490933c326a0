"""A consumer group member's session timeout: aiokafka's defaults in production, shorter only
when a test asks (`SHOUWANG_TEST_KAFKA_SESSION_TIMEOUT_MS`), so a `kill -9` test's restarted
consumers get their partitions back sooner; a value the broker would refuse is refused here,
naming the variable, rather than crash-looping every consumer."""

from __future__ import annotations

from typing import Any

import pytest
from faststream.kafka import KafkaBroker
from shouwang_servicekit.kafka.consumers import (
    SESSION_TIMEOUT_ENV,
    group_timing,
    subscribe,
    subscribe_batch,
)


async def _handle(record: Any) -> None:
    return None


async def _handle_all(items: list[Any]) -> None:
    return None


def _timing(subscriber: Any) -> tuple[int, int]:
    # FastStream keeps the consumer's arguments here until it builds the aiokafka consumer.
    args = subscriber._connection_args
    return args["session_timeout_ms"], args["heartbeat_interval_ms"]


def _subscribers(monkeypatch: pytest.MonkeyPatch, value: str | None) -> list[Any]:
    if value is None:
        monkeypatch.delenv(SESSION_TIMEOUT_ENV, raising=False)
    else:
        monkeypatch.setenv(SESSION_TIMEOUT_ENV, value)
    broker = KafkaBroker("127.0.0.1:9")
    subscribe(broker, "one", group_id="g1", handle=_handle)
    subscribe_batch(
        broker, "two", group_id="g2", decode=lambda r: r, handle=_handle_all, max_records=10
    )
    return list(broker.subscribers)


def test_production_keeps_aiokafkas_session_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    for subscriber in _subscribers(monkeypatch, None):
        assert _timing(subscriber) == (10_000, 3_000)


def test_a_test_shortens_every_consumers_session_and_heartbeat(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    subscribers = _subscribers(monkeypatch, "6000")
    assert group_timing() == {"session_timeout_ms": 6000, "heartbeat_interval_ms": 2000}
    assert len(subscribers) == 2
    for subscriber in subscribers:
        assert _timing(subscriber) == (6_000, 2_000)


@pytest.mark.parametrize("value", ["6s", "500"])
def test_a_session_timeout_the_broker_would_refuse_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    with pytest.raises(ValueError, match=SESSION_TIMEOUT_ENV):
        _subscribers(monkeypatch, value)
