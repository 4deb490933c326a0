"""Publishing envelopes to Kafka and knowing when the broker has them.

Two producers: one for reports and individual screenings, one for census rows, each its
own connection and record accumulator, so a census upload in flight never queues ahead of
a tier report. Both use acks=all with the idempotent producer.

They are aiokafka producers (made by the kit's `KafkaClients`), the client FastStream itself
wraps. Intake's hot path hands records straight to it: FastStream's publish builds a command
object, a correlation id and a middleware chain per message, which measured about a tenth of
intake's CPU per report. FastStream still runs intake's consumer and documents the topics
(AsyncAPI).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from aiokafka import AIOKafkaProducer
from shouwang_contracts.envelope import Envelope

logger = logging.getLogger(__name__)


class KafkaUnavailable(Exception):
    """Kafka did not acknowledge the write in time; nothing may be promised to the client."""


class EventPublisher:
    """Sends envelopes and waits for Kafka's acknowledgement, or says it could not."""

    def __init__(
        self,
        make_producer: Callable[[], AIOKafkaProducer],
        *,
        ping: Callable[[], Awaitable[bool]],
        timeout_seconds: float,
        reset_after_seconds: float = 20.0,
    ) -> None:
        self._make_producer = make_producer
        self._producer: AIOKafkaProducer | None = None
        self._ping = ping
        self._timeout = timeout_seconds
        self._deadlines = Deadlines(timeout_seconds)
        self._reset_after = reset_after_seconds
        self._failing_since: float | None = None
        self._reset_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        producer = self._make_producer()
        await producer.start()
        self._producer = producer

    async def stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    async def publish(self, envelope: Envelope[Any], topic: str | None = None) -> None:
        """Return only once Kafka acknowledged the record (acks=all), or raise
        `KafkaUnavailable` when it did not within the timeout.

        One deadline covers both the hand-over and the acknowledgement (`Deadlines`: one timer
        for every publish in flight, not one each). The acknowledgement is awaited through a
        future of our own: cancelling the producer's future would trip aiokafka's sender
        later, and it would stop sending.
        """
        producer = self._producer
        if producer is None:
            raise KafkaUnavailable("the Kafka producer is not started")
        task = asyncio.current_task()
        assert task is not None
        guard = self._deadlines.guard(task)
        try:
            delivery: asyncio.Future[Any] = await producer.send(
                topic or envelope.topic,
                envelope.to_bytes(),
                key=envelope.key,
                headers=envelope.kafka_headers(),
            )
            acknowledged = task.get_loop().create_future()
            delivery.add_done_callback(partial(_relay, acknowledged))
            guard.waiting_on(acknowledged)
            await acknowledged
        except asyncio.CancelledError:
            if guard.timed_out(task):
                # Our deadline cancelled the hand-over, nobody else: a timeout, not a cancel.
                self._note_failure()
                raise KafkaUnavailable(self._timed_out()) from None
            raise
        except Exception as exc:
            self._note_failure()
            if isinstance(exc, TimeoutError):
                raise KafkaUnavailable(self._timed_out()) from exc
            raise KafkaUnavailable(str(exc) or type(exc).__name__) from exc
        finally:
            guard.release()
        self._failing_since = None

    def _timed_out(self) -> str:
        return f"no acknowledgement within {self._timeout:.1f} s"

    def _note_failure(self) -> None:
        """After failures for a while, recreate the producer once the broker answers again.

        An idempotent producer can be left wedged by a broker that restarted under it
        (leaders moving, sequence state lost); a fresh producer gets a new producer id.
        """
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
        elif now - self._failing_since >= self._reset_after and (
            self._reset_task is None or self._reset_task.done()
        ):
            self._reset_task = asyncio.create_task(self._reset_producer())

    async def _reset_producer(self) -> None:
        if not await self._ping():
            return  # the broker is still away: a new producer would not help
        logger.warning(
            "recreating the Kafka producer after %.0f s of failed publishes",
            time.monotonic() - (self._failing_since or time.monotonic()),
        )
        old = self._producer
        await self.start()
        self._failing_since = None
        if old is not None:
            try:
                async with asyncio.timeout(self._timeout):
                    await old.stop()
            except Exception:
                logger.warning("the replaced Kafka producer did not stop cleanly", exc_info=True)

    async def enqueue(
        self, envelope: Envelope[Any], topic: str | None = None
    ) -> asyncio.Future[Any]:
        """Hand a record to the producer's batch; the returned future resolves on the ack.

        Waits only for topic metadata or while the producer's buffer is full, which is the
        back-pressure a bulk upload needs; many rows then ride in few requests.
        """
        producer = self._producer
        if producer is None:
            raise KafkaUnavailable("the Kafka producer is not started")
        try:
            async with asyncio.timeout(self._timeout):
                delivery: asyncio.Future[Any] = await producer.send(
                    topic or envelope.topic,
                    envelope.to_bytes(),
                    key=envelope.key,
                    headers=envelope.kafka_headers(),
                )
        except Exception as exc:
            self._note_failure()
            raise KafkaUnavailable(str(exc) or type(exc).__name__) from exc
        return delivery

    async def wait_acknowledged(self, futures: list[asyncio.Future[Any]]) -> int:
        """Wait for the acks of enqueued records; raise if any was not acknowledged in time."""
        if not futures:
            return 0
        done, pending = await asyncio.wait(futures, timeout=self._timeout * 4)
        if pending:
            raise KafkaUnavailable(f"{len(pending)} records not acknowledged in time")
        failures = [f.exception() for f in done if f.exception() is not None]
        if failures:
            raise KafkaUnavailable(str(failures[0]) or type(failures[0]).__name__)
        return len(done)

    async def ping(self) -> bool:
        return self._producer is not None and await self._ping()


def _relay(acknowledged: asyncio.Future[Any], delivery: asyncio.Future[Any]) -> None:
    """Pass the producer's outcome on to the publisher's own future, unless that one has
    ended already (timed out, or its request cancelled). The outcome is retrieved either
    way, so a late failure is not logged as never retrieved. A delivery the producer
    cancelled is a failure to publish, never a cancellation of the request."""
    if delivery.cancelled():
        if not acknowledged.done():
            acknowledged.set_exception(KafkaUnavailable("the Kafka producer dropped the record"))
        return
    exc = delivery.exception()
    if acknowledged.done():
        return
    if exc is None:
        acknowledged.set_result(delivery.result())
    else:
        acknowledged.set_exception(exc)


class Guard:
    """One publish's deadline: before the hand-over ends, expiring cancels its task (as
    `asyncio.timeout` would); afterwards, it fails the future the publish awaits."""

    __slots__ = ("_task", "_waiting", "cancelling", "deadline", "expired")

    def __init__(self, deadline: float, task: asyncio.Task[Any]) -> None:
        self.deadline = deadline
        self.expired = False
        self.cancelling = task.cancelling()  # requests to cancel the task from elsewhere
        self._task: asyncio.Task[Any] | None = task
        self._waiting: asyncio.Future[Any] | None = None

    def timed_out(self, task: asyncio.Task[Any]) -> bool:
        """After a CancelledError: whether this deadline cancelled the task and nothing else
        did (then it is a timeout), as `asyncio.timeout` decides."""
        return self.expired and task.uncancel() <= self.cancelling

    def waiting_on(self, acknowledged: asyncio.Future[Any]) -> None:
        self._waiting = acknowledged

    def release(self) -> None:
        """The publish is over: drop the references (the guard waits for its sweep)."""
        self._task = self._waiting = None

    @property
    def released(self) -> bool:
        return self._task is None

    def expire(self) -> None:
        if self._task is None:
            return
        self.expired = True
        if self._waiting is None:
            self._task.cancel()
        elif not self._waiting.done():
            self._waiting.set_exception(TimeoutError())


class Deadlines:
    """The deadlines of every publish in flight, kept by one timer.

    `asyncio.timeout` schedules and cancels a timer per publish, and the wait needs a
    shielded future besides: together about a twentieth of intake's CPU per report. Every
    publish here has the same timeout, so deadlines arrive in the order publishes start: a
    deque holds their guards, and one timer, set for the oldest one still running, expires
    what is due and drops what has finished.
    """

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._guards: deque[Guard] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def guard(self, task: asyncio.Task[Any]) -> Guard:
        loop = task.get_loop()
        if loop is not self._loop:  # a new event loop (tests): the old one's timer is gone
            self._guards.clear()
            self._timer, self._loop = None, loop
        guard = Guard(loop.time() + self._seconds, task)
        self._guards.append(guard)
        if self._timer is None:
            self._timer = loop.call_at(guard.deadline, self._sweep, loop)
        return guard

    def __len__(self) -> int:
        return len(self._guards)

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        guards = self._guards
        while guards and (guards[0].released or guards[0].deadline <= now):
            guards.popleft().expire()
        self._timer = loop.call_at(guards[0].deadline, self._sweep, loop) if guards else None
