"""A publish waits for Kafka at most its timeout, hand-over and acknowledgement together; one
timer keeps every publish's deadline, and a publish's own cancellation stays a cancellation."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events.intake import ReportSubmitted
from shouwang_contracts.vocabulary import Role, Signal
from shouwang_intake.adapters.publisher import EventPublisher, KafkaUnavailable

TIMEOUT = 0.2
LONG = 5.0  # for the tests about something else than the deadline, which must not interfere
# Timers may fire a clock tick early, and a busy CI machine delays the loop: the bounds say
# "at the deadline, not long after", never how fast.


class FakeProducer:
    """aiokafka's `send` as the publisher uses it: hands over (or hangs), returns a future."""

    def __init__(self) -> None:
        self.hang_hand_over = False
        self.hand_over_cancelled = False
        self.deliveries: list[asyncio.Future[Any]] = []

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, topic: str, value: bytes, **_: Any) -> asyncio.Future[Any]:
        if self.hang_hand_over:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                self.hand_over_cancelled = True
                raise
        delivery: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.deliveries.append(delivery)
        return delivery


async def _publisher(producer: FakeProducer, seconds: float = TIMEOUT) -> EventPublisher:
    async def ping() -> bool:
        return False

    publisher = EventPublisher(lambda: producer, ping=ping, timeout_seconds=seconds)  # type: ignore[arg-type, return-value]
    await publisher.start()
    return publisher


def _envelope() -> Envelope[Any]:
    now = datetime.now(UTC)
    payload = ReportSubmitted(
        report_id="r1",
        student_ref="stu_" + "a" * 32,
        reporter_ref="per_" + "b" * 32,
        reporter_role=Role.DORM_LEADER,
        signals=[Signal.SOCIAL_WITHDRAWAL],
        observed_at=now,
        received_at=now,
    )
    return Envelope.wrap(payload, source="/t", campus_id="demo", subject=payload.student_ref)


async def _acknowledge_soon(producer: FakeProducer, after: float) -> None:
    await asyncio.sleep(after)
    for delivery in producer.deliveries:
        if not delivery.done():
            delivery.set_result("metadata")


async def test_an_acknowledged_publish_returns() -> None:
    producer = FakeProducer()
    publisher = await _publisher(producer, seconds=LONG)
    acking = asyncio.create_task(_acknowledge_soon(producer, 0.01))
    await publisher.publish(_envelope())
    await acking


async def test_no_acknowledgement_within_the_timeout_is_kafka_unavailable() -> None:
    producer = FakeProducer()
    publisher = await _publisher(producer)
    started = time.monotonic()
    with pytest.raises(KafkaUnavailable, match=r"no acknowledgement within 0\.2 s"):
        await publisher.publish(_envelope())
    assert TIMEOUT - 0.01 <= time.monotonic() - started < TIMEOUT + 1.0
    # The producer's own future is left alone (cancelling it would trip aiokafka's sender),
    # and its late failure is retrieved, not logged as never retrieved.
    (delivery,) = producer.deliveries
    assert not delivery.cancelled()
    delivery.set_exception(RuntimeError("late"))
    await asyncio.sleep(0)
    assert delivery._log_traceback is False  # type: ignore[attr-defined]


async def test_a_hand_over_that_hangs_is_cancelled_at_the_deadline() -> None:
    producer = FakeProducer()
    producer.hang_hand_over = True
    publisher = await _publisher(producer)
    started = time.monotonic()
    with pytest.raises(KafkaUnavailable, match="no acknowledgement"):
        await publisher.publish(_envelope())
    assert TIMEOUT - 0.01 <= time.monotonic() - started < TIMEOUT + 1.0
    assert producer.hand_over_cancelled
    # The timeout was ours: the task is not left marked as being cancelled.
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0


async def test_a_failed_delivery_is_kafka_unavailable_with_its_reason() -> None:
    producer = FakeProducer()
    publisher = await _publisher(producer, seconds=LONG)

    async def fail_soon() -> None:
        await asyncio.sleep(0.01)
        producer.deliveries[0].set_exception(RuntimeError("NotEnoughReplicas"))

    failing = asyncio.create_task(fail_soon())
    with pytest.raises(KafkaUnavailable, match="NotEnoughReplicas"):
        await publisher.publish(_envelope())
    await failing


async def test_a_delivery_the_producer_cancels_is_kafka_unavailable() -> None:
    # Not a CancelledError: that would read as the request being cancelled, not a 503.
    producer = FakeProducer()
    publisher = await _publisher(producer, seconds=LONG)

    async def drop_soon() -> None:
        await asyncio.sleep(0.01)
        producer.deliveries[0].cancel()

    dropping = asyncio.create_task(drop_soon())
    with pytest.raises(KafkaUnavailable, match="dropped the record"):
        await publisher.publish(_envelope())
    await dropping


@pytest.mark.parametrize("hang_hand_over", [False, True])
async def test_cancelling_a_publish_is_a_cancellation_not_a_timeout(hang_hand_over: bool) -> None:
    producer = FakeProducer()
    producer.hang_hand_over = hang_hand_over
    publisher = await _publisher(producer, seconds=LONG)
    publishing = asyncio.create_task(publisher.publish(_envelope()))
    await asyncio.sleep(0.02)
    publishing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await publishing
    for delivery in producer.deliveries:
        assert not delivery.cancelled()  # the record may still reach Kafka; aiokafka decides


async def test_one_timer_serves_many_publishes_and_keeps_nothing_after_them() -> None:
    # The guards must outlive the 200 publishes: 0.2 s did not always, in a long test session
    # on a busy machine (once 0.26 s from the first publish to the last acknowledgement), nor
    # did 1.0 s at a load average of 20. The sweep is then awaited, not slept for.
    seconds = 3.0
    producer = FakeProducer()
    publisher = await _publisher(producer, seconds=seconds)
    loop = asyncio.get_running_loop()
    timers_before = len(loop._scheduled)  # type: ignore[attr-defined]
    publishes = [asyncio.create_task(publisher.publish(_envelope())) for _ in range(200)]
    await asyncio.sleep(0.01)
    # 200 publishes in flight, one timer for their deadlines (asyncio.timeout: 200).
    assert len(loop._scheduled) - timers_before == 1  # type: ignore[attr-defined]
    await _acknowledge_soon(producer, 0)
    await asyncio.gather(*publishes)
    # Finished publishes leave small guards until the sweep, holding no task or future.
    assert len(publisher._deadlines) == 200
    assert all(guard.released for guard in publisher._deadlines._guards)
    for _ in range(int((seconds + 10.0) / 0.05)):
        if not len(publisher._deadlines):
            break
        await asyncio.sleep(0.05)
    assert len(publisher._deadlines) == 0
    assert publisher._deadlines._timer is None


async def test_late_publishes_keep_their_own_deadline() -> None:
    # An early publish finishing must not end the wait of later ones, nor time them out early.
    # A longer timeout here: the checks sit between two deadlines half a second apart.
    producer = FakeProducer()
    publisher = await _publisher(producer, seconds=1.0)
    first = asyncio.create_task(publisher.publish(_envelope()))
    await asyncio.sleep(0.5)
    second = asyncio.create_task(publisher.publish(_envelope()))
    await asyncio.sleep(0.01)
    producer.deliveries[0].set_result("metadata")
    await first
    await asyncio.sleep(0.75)  # past the first's deadline (1.0 s), before the second's (1.5 s)
    assert not second.done()
    producer.deliveries[1].set_result("metadata")
    await second
