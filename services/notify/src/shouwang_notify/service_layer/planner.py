"""Planning alerts from the inbox into queued messages, the gravest first.

Two lanes share the inbox: the urgent lane plans only critical alerts, so a critical alert is
never planned behind a batch of milder ones, nor inside one (a batch's messages become visible
to the senders only when its transaction commits); when critical alerts queue up (a census) it
takes up to `urgent_batch` of them a transaction, since a set-wise batch of 25 takes about as
long as one of 5 and three planners of 5 fell behind 100 alerts a second. The bulk lane plans
the rest, the gravest first, many per transaction. Each
alert's messages are queued and the alert removed from the inbox in one transaction, so a
planner killed halfway leaves the alert waiting, never half planned. An alert whose planning
fails (not for the database's sake) is tried alone, in a transaction of its own, and if it fails
alone it waits and is tried again later, never dropped; the others of its batch go on.

Every planning transaction locks the rows it touches in one order: the students' open cases
in (campus, student, case) order in one statement (as the cases consumer locks a slice's
cases), then the people's oversight windows in (campus, person) order in one statement, then
their burst windows channel by channel in sorted order, each in (campus, person) order. So
neither lane, nor two urgent planners, nor a planner and the cases consumer, can wait on each
other in a circle (which PostgreSQL breaks by failing one, after `deadlock_timeout`, perhaps
the urgent lane: test_lock_order.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.kafka import decode_event
from shouwang_servicekit.backoff import Backoff
from shouwang_servicekit.transient import is_transient

from .. import metrics
from ..adapters import inbox
from ..adapters.db import worker_transaction
from ..domain.routing import AlertNotice
from .alerts import ALERT_EVENTS, alert_notice, plan_alert, plan_alerts
from .policy import CRITICAL_PRIORITY, LOWEST_PRIORITY, NotifyPolicy
from .precedence import Precedence

logger = logging.getLogger("shouwang.notify.planner")
# A failed alert waits this long times 2^(attempts-1), at most the cap, before its next try.
RETRY_FIRST = timedelta(seconds=5)
RETRY_CAP = timedelta(minutes=10)


def parse_alert(event: bytes) -> AlertNotice:
    """An alert event (validated when it landed) as routing needs it."""
    kind = json.loads(event)["type"]
    return alert_notice(decode_event(event, ALERT_EVENTS[kind]))


@dataclass
class AlertPlanner:
    """Plans waiting alerts; `wake()` when some landed."""

    pool: asyncpg.Pool
    cipher: NoteCipher
    policy: NotifyPolicy
    batch: int = 50
    urgent_batch: int = 5
    # Urgent planners at once: planning an alert takes a dozen round trips to PostgreSQL, so
    # one planner alone falls behind a burst of critical alerts (a census raising hundreds).
    urgent_workers: int = 3
    poll_seconds: float = 1.0
    # Called after messages were queued: the dispatcher looks at once.
    planned: Callable[[], None] = lambda: None
    # Held while critical alerts wait or are planned: the bulk planner steps aside.
    precedence: Precedence = field(default_factory=Precedence)
    _wake: dict[str, asyncio.Event] = field(default_factory=dict)
    _urgent_busy: int = 0

    def wake(self) -> None:
        for event in self._wake.values():
            event.set()

    async def run(self) -> None:
        """Plan until cancelled, both lanes at once (the urgent one with several workers)."""
        await asyncio.gather(
            *(
                self._run_lane(
                    f"urgent-{n}", CRITICAL_PRIORITY, CRITICAL_PRIORITY, self.urgent_batch
                )
                for n in range(self.urgent_workers)
            ),
            self._run_lane("bulk", CRITICAL_PRIORITY + 1, LOWEST_PRIORITY, self.batch),
        )

    async def _run_lane(self, name: str, min_priority: int, max_priority: int, batch: int) -> None:
        wake = self._wake.setdefault(name, asyncio.Event())
        errors = Backoff(0.2, 10.0)
        urgent = max_priority == CRITICAL_PRIORITY
        while True:
            wake.clear()
            try:
                if urgent:
                    planned = await self._plan_urgent(min_priority, max_priority, batch)
                else:
                    await self.precedence.yield_to_critical()
                    planned = await self.plan_once(
                        min_priority=min_priority, max_priority=max_priority, limit=batch
                    )
            except asyncio.CancelledError:
                raise
            except Exception:
                pause = errors.next_pause()
                logger.exception("planning (%s) failed; retrying in %.1f s", name, pause)
                await asyncio.sleep(pause)
                continue
            errors.reset()
            if planned >= batch:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), self.poll_seconds)

    async def _plan_urgent(self, min_priority: int, max_priority: int, batch: int) -> int:
        """One urgent planner's turn: precedence is held while it plans critical alerts (and
        a moment after, until they are claimed for sending), released when none is waiting
        and no other urgent planner is at work."""
        self._urgent_busy += 1
        try:
            planned = await self.plan_once(
                min_priority=min_priority, max_priority=max_priority, limit=batch
            )
        finally:
            self._urgent_busy -= 1
        if planned:
            self.precedence.hold()
        elif not self._urgent_busy:
            self.precedence.release()
        return planned

    async def plan_once(
        self,
        *,
        min_priority: int = CRITICAL_PRIORITY,
        max_priority: int = LOWEST_PRIORITY,
        limit: int | None = None,
    ) -> int:
        """Plan up to `limit` waiting alerts with a priority from `min_priority` (gravest) to
        `max_priority`, the gravest first, in one transaction; returns how many were taken."""
        now = datetime.now(UTC)
        async with worker_transaction(self.pool) as conn:
            taken = await inbox.take(
                conn,
                min_priority=min_priority,
                max_priority=max_priority,
                limit=limit or self.batch,
                now=now,
            )
            if not taken:
                return 0
            try:
                async with conn.transaction():  # a savepoint: the batch, or nothing of it
                    notices = [parse_alert(waiting.event) for waiting in taken]
                    await plan_alerts(conn, self.cipher, self.policy, notices, now)
            except Exception as exc:
                if is_transient(exc):
                    raise
                failed = True
            else:
                failed = False
                await inbox.remove(conn, [waiting.id for waiting in taken])
        if failed:
            # Each alert alone, in a transaction of its own: locks kept from one alert's
            # savepoint to the next would be taken in the inbox's order, not the students'
            # (and the people's) order every planning transaction takes them in, and so
            # could close a circle with another lane (PostgreSQL then fails one: 40P01).
            for waiting in taken:
                async with worker_transaction(self.pool) as conn:
                    if await inbox.retake(conn, waiting.id):
                        await self._plan_alone(conn, waiting, now)
        self.planned()
        return len(taken)

    async def observe_inbox(self) -> None:
        """Alerts waiting to be planned and the oldest one's age, for /metrics."""
        async with worker_transaction(self.pool) as conn:
            waiting, oldest = await inbox.depth(conn, datetime.now(UTC))
        metrics.ALERTS_WAITING.set(waiting)
        metrics.ALERTS_WAITING_OLDEST_SECONDS.set(oldest)

    async def _plan_alone(
        self, conn: asyncpg.Connection, waiting: inbox.Waiting, now: datetime
    ) -> None:
        try:
            async with conn.transaction():
                await plan_alert(conn, self.cipher, self.policy, parse_alert(waiting.event), now)
                await inbox.remove(conn, [waiting.id])
        except Exception as exc:
            if is_transient(exc):
                raise
            pause = min(RETRY_FIRST * 2**waiting.attempts, RETRY_CAP)
            await inbox.postpone(conn, waiting, now + pause, type(exc).__name__)
            metrics.PLANNING_FAILED.inc()
            logger.error(
                "planning alert event %s failed (attempt %d); next try in %.0f s",
                waiting.event_id,
                waiting.attempts + 1,
                pause.total_seconds(),
                exc_info=exc,
            )
