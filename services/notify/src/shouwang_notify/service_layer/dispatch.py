"""The delivery workers: claim due messages, render, send, and record what happened.

A claim commits before anything is sent (status `sending` under a lease), the send happens
outside any transaction, and its outcome commits with the notification event in the outbox.
Killed between claim and outcome, a worker leaves its rows to be claimed again once the
lease runs out, so nothing is lost; a channel that accepted a message and then lost the
answer is the one case that can repeat it, as with any at-least-once channel.

Sending capacity comes in lanes. Each lane has its own slots and its own senders (its own
SMTP connections) and claims, gravest first, only as many messages as it has free slots, per
channel no more than that channel's rate lets go within a couple of seconds. The bulk lane
takes every message; the urgent lane takes only critical ones, so a critical message never
waits for a slot behind a burst, and at a channel's rate limit it goes ahead of routine ones.
Slots refill as sends finish (no batch waits for its slowest message).

Slots are not the only thing a burst takes: the sends share one process (one event loop, a
share of the CPU). While a critical message is on its way (for at most
`URGENT_PRECEDENCE_SECONDS`, so a critical message stuck on a slow channel does not stall the
rest), and while critical alerts are landed and planned (`Precedence`, held by the consumer
and the urgent planners), the bulk lane claims only critical messages (its slots and
connections help with a burst of them), and only when woken by new ones: nothing routine
joins the sends already in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.events.notify import NotificationChannel as Channel
from shouwang_servicekit.backoff import Backoff

from .. import metrics
from ..adapters import queue
from ..adapters.channels import ChannelFailure, Outgoing, Sender
from ..adapters.db import worker_transaction
from .messages import Addresses, Composer, read_addresses
from .outcomes import Outcome, Outcomes
from .policy import CRITICAL_PRIORITY, LOWEST_PRIORITY, NotifyPolicy
from .precedence import Precedence
from .rates import ChannelRate

logger = logging.getLogger("shouwang.notify.dispatch")
# How often rows whose lease ran out are made due again.
RELEASE_EVERY_SECONDS = 1.0
# How long a critical message in flight holds back the bulk lane's new claims, and how often
# the bulk lane looks again meanwhile.
URGENT_PRECEDENCE_SECONDS = 2.0
URGENT_YIELD_SECONDS = 0.02


@dataclass(frozen=True)
class Lane:
    """A share of the sending capacity: slots, senders, and which messages it takes."""

    name: str
    senders: Mapping[Channel, Sender]
    concurrency: int = 20
    # Messages of one channel in flight at once (default: the lane's concurrency).
    caps: Mapping[Channel, int] = field(default_factory=dict)
    # The least grave priority it claims (0: critical only).
    max_priority: int = LOWEST_PRIORITY
    # Goes ahead of routine messages at the channels' rate limits.
    urgent: bool = False

    def cap(self, channel: Channel) -> int:
        return min(self.caps.get(channel, self.concurrency), self.concurrency)

    @property
    def channels(self) -> list[Channel]:
        # A call task needs no sender: it is recorded for the counselling center.
        return [*self.senders, Channel.PHONE_CALL]


class _Slots:
    """A lane's messages in flight, in all and by channel."""

    def __init__(self, lane: Lane, freed: asyncio.Event) -> None:
        self.lane = lane
        self.total = 0
        self.by_channel: Counter[Channel] = Counter()
        self.freed = freed
        self.started: dict[int, float] = {}  # delivery id: when it was claimed (monotonic)

    @property
    def free(self) -> int:
        return self.lane.concurrency - self.total

    def budgets(self) -> dict[Channel, int]:
        if self.free <= 0:
            return {}
        found = {c: self.lane.cap(c) - self.by_channel[c] for c in self.lane.channels}
        return {c: min(n, self.free) for c, n in found.items() if n > 0}

    def take(self, delivery: queue.Delivery) -> None:
        self.total += 1
        self.by_channel[delivery.channel] += 1
        self.started[delivery.id] = time.monotonic()

    def give_back(self, delivery: queue.Delivery) -> None:
        self.total -= 1
        self.by_channel[delivery.channel] -= 1
        self.started.pop(delivery.id, None)
        self.freed.set()

    def sending_since(self, seconds: float) -> bool:
        """Whether a message claimed less than `seconds` ago is still in flight."""
        since = time.monotonic() - seconds
        return any(started > since for started in self.started.values())


@dataclass
class Dispatcher:
    """Sends what is due, lane by lane, with per-channel rate limits and retries."""

    pool: asyncpg.Pool
    cipher: NoteCipher
    composer: Composer
    policy: NotifyPolicy
    lanes: Sequence[Lane]
    # Per-channel rate limits, shared by the lanes.
    limits: Mapping[Channel, ChannelRate] = field(default_factory=dict)
    lease: timedelta = timedelta(seconds=60)
    poll_seconds: float = 0.2
    outcomes: Outcomes | None = None
    # Held while critical alerts are landed and planned (the planner's): the bulk lane
    # then claims only critical messages, as it does while one is in flight.
    precedence: Precedence = field(default_factory=Precedence)

    def __post_init__(self) -> None:
        if self.outcomes is None:
            self.outcomes = Outcomes(self.pool, self.cipher, self.policy)
        self._wake = {lane.name: asyncio.Event() for lane in self.lanes}
        self._slots = {lane.name: _Slots(lane, self._wake[lane.name]) for lane in self.lanes}
        self._sending: set[asyncio.Task[None]] = set()
        self._released = 0.0

    @property
    def in_flight(self) -> int:
        """Messages claimed and not yet done (sent or failed, and recorded)."""
        return len(self._sending)

    def wake(self) -> None:
        """Messages were queued: look now rather than at the next poll."""
        for event in self._wake.values():
            event.set()

    async def run(self) -> None:
        """Send what is due until cancelled, every lane at once. Several dispatchers share
        the queue (SKIP LOCKED), in one process as across replicas."""
        try:
            await asyncio.gather(*(self._run_lane(lane) for lane in self.lanes))
        finally:
            for task in list(self._sending):
                task.cancel()

    async def _run_lane(self, lane: Lane) -> None:
        """Claim as slots free up: at once after `wake()` or a finished send, else every
        poll. A busy lane waits until a quarter of its slots are free, so claims come in
        batches rather than one per finished message. A database away is waited out."""
        slots, wake = self._slots[lane.name], self._wake[lane.name]
        refill = max(1, lane.concurrency // 4)
        errors = Backoff(self.poll_seconds, 10.0)
        eager = True  # claim now, not only when woken
        while True:
            woken, eager = wake.is_set() or eager, False
            wake.clear()
            if slots.total and slots.free < refill:
                await wake.wait()
                continue
            precedence = not lane.urgent and self._critical_on_its_way()
            if precedence and not woken:
                # Nothing new was queued: look again shortly, without a claim (each claim
                # is a transaction on the loop the critical messages need).
                await asyncio.sleep(URGENT_YIELD_SECONDS)
                continue
            try:
                claimed, asked = await self._claim(
                    lane, CRITICAL_PRIORITY if precedence else lane.max_priority
                )
            except asyncio.CancelledError:
                raise
            except Exception:
                pause = errors.next_pause()
                logger.exception("dispatch (%s) failed; retrying in %.1f s", lane.name, pause)
                await asyncio.sleep(pause)
                continue
            errors.reset()
            if claimed and claimed >= asked:
                eager = True
                continue
            if precedence:
                await asyncio.sleep(URGENT_YIELD_SECONDS)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), self.poll_seconds)

    def _critical_on_its_way(self) -> bool:
        return self.precedence.held or any(
            self._slots[lane.name].sending_since(URGENT_PRECEDENCE_SECONDS)
            for lane in self.lanes
            if lane.urgent
        )

    async def run_once(self) -> int:
        """Claim once in every lane and wait until those messages are done; returns how many
        were claimed (tests and tools drive the dispatcher with this)."""
        claimed = 0
        for lane in self.lanes:
            claimed += (await self._claim(lane))[0]
        while self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)
        return claimed

    async def _claim(self, lane: Lane, max_priority: int | None = None) -> tuple[int, int]:
        """Claim what the lane can send now and start sending it: (claimed, asked for)."""
        slots = self._slots[lane.name]
        budgets = slots.budgets()
        if not budgets:
            return 0, 0
        asked = min(slots.free, sum(budgets.values()))
        now = datetime.now(UTC)
        async with worker_transaction(self.pool) as conn:
            if time.monotonic() - self._released > RELEASE_EVERY_SECONDS:
                self._released = time.monotonic()
                await queue.release_expired(conn, now)
            claimed = await queue.claim(
                conn,
                budgets,
                total=asked,
                max_priority=lane.max_priority if max_priority is None else max_priority,
                lease=self.lease,
                now=now,
            )
            found = await read_addresses(conn, self.cipher, claimed) if claimed else Addresses()
        for delivery in claimed:
            slots.take(delivery)
            task = asyncio.create_task(self._deliver(lane, delivery, found))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)
        return len(claimed), asked

    async def _deliver(self, lane: Lane, d: queue.Delivery, found: Addresses) -> None:
        """Send one claimed message and wait until its outcome is committed."""
        assert self.outcomes is not None
        try:
            message = self.composer.compose(d, found)
            if isinstance(message, Outgoing):
                outcome = Outcome(d, failure=await self._send(lane, message))
            else:
                outcome = Outcome(d, unsendable=message)
            await self.outcomes.record(outcome)
        except Exception:
            # The row stays `sending`; its lease runs out and it is tried again.
            logger.exception("delivery %s failed unexpectedly", d.notification_id)
        finally:
            self._slots[lane.name].give_back(d)

    async def _send(self, lane: Lane, message: Outgoing) -> ChannelFailure | None:
        rate = self.limits.get(message.channel)
        try:
            if rate is not None:
                await rate.wait(urgent=lane.urgent)
            await lane.senders[message.channel].send(message)
        except ChannelFailure as failure:
            return failure
        return None

    async def observe_queue(self) -> None:
        """Queue depth and the oldest due message's age, for /metrics."""
        async with worker_transaction(self.pool) as conn:
            depth, oldest = await queue.queue_depth(conn, datetime.now(UTC))
        metrics.QUEUE_DEPTH.set(depth)
        metrics.QUEUE_OLDEST_SECONDS.set(oldest)
