"""What became of each message, committed with its notification event (outbox).

Outcomes are committed many to a transaction (a group commit): while one transaction commits,
the outcomes that arrive meanwhile wait and go together in the next. A burst then costs a few
commits a second rather than one per message, and a lone message waits for no one. A sender's
slot is held until its outcome is durable, so a database that stops taking outcomes stops
the sending too (nothing is sent whose outcome could not be recorded for long).

An outcome the database failed to take (a dropped connection, a failover) is written again
until it is taken, for as long as the lease lasts: the message went out, and a row left
`sending` would be claimed and sent again once its lease ran out. Every write is guarded by the
row's status, so writing again after a commit whose answer was lost changes nothing. Past the
lease the outcome is given up (the row is another worker's by then) rather than wedge every
sender behind it.

Metrics count what committed: a write's counts are taken only once its transaction committed,
so an outcome written again after a failed commit is counted once.

Retries back off with jitter; a permanent failure, or the last retry, fails the channel,
publishes `notification.failed` and queues the recipient's next channel.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

import asyncpg
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.events.notify import NotificationChannel as Channel
from shouwang_contracts.events.notify import (
    NotificationDelivered,
    NotificationFailed,
    RecipientKind,
)
from shouwang_servicekit.backoff import Backoff
from shouwang_servicekit.transient import is_transient

from .. import metrics
from ..adapters import contacts_repo, outbox, queue
from ..adapters.channels import ChannelFailure
from ..adapters.db import worker_transaction
from ..adapters.outbox import OutgoingEvent
from ..domain.contacts import family_chain, staff_chain
from ..domain.routing import Template
from . import bursts
from .messages import Unsendable
from .policy import NotifyPolicy

logger = logging.getLogger("shouwang.notify.dispatch")
# Metric counts a write takes once its transaction committed.
Counts = list[Callable[[], object]]


@dataclass(frozen=True, slots=True)
class Outcome:
    """A claimed message's fate: sent (no failure, not unsendable), failed, or unsendable."""

    delivery: queue.Delivery
    failure: ChannelFailure | None = None
    unsendable: Unsendable | None = None

    @property
    def sent(self) -> bool:
        return self.failure is None and self.unsendable is None


@dataclass
class Outcomes:
    """Records outcomes, a group per transaction; `record` returns once its own is durable."""

    pool: asyncpg.Pool
    cipher: NoteCipher
    policy: NotifyPolicy
    draw: Callable[[], float] = random.random
    # How long a transient failure to record outcomes is retried: the claim's lease.
    patience_seconds: float = 60.0
    _waiting: list[tuple[Outcome, asyncio.Future[None]]] = field(default_factory=list)
    _writing: bool = False

    async def record(self, outcome: Outcome) -> None:
        """Commit `outcome` (with others that arrive meanwhile); raises if it could not be."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((outcome, done))
        if not self._writing:
            # The first to arrive writes for everyone until no one waits.
            self._writing = True
            try:
                while self._waiting:
                    group, self._waiting = self._waiting, []
                    await self._commit(group)
            finally:
                self._writing = False
        await done

    async def _commit(self, group: list[tuple[Outcome, asyncio.Future[None]]]) -> None:
        errors = Backoff(0.2, 5.0)
        give_up = time.monotonic() + self.patience_seconds
        while True:
            try:
                async with worker_transaction(self.pool) as conn:
                    counts = await self.write(conn, [outcome for outcome, _ in group])
                break
            except Exception as exc:
                if not is_transient(exc):
                    await self._commit_apart(group, exc)
                    return
                if time.monotonic() > give_up:
                    _settle(group, exc)
                    return
                pause = errors.next_pause()
                logger.warning(
                    "recording %d outcomes failed (%s); again in %.1f s",
                    len(group),
                    type(exc).__name__,
                    pause,
                )
                await asyncio.sleep(pause)
        for count in counts:
            count()
        _settle(group, None)

    async def _commit_apart(
        self, group: list[tuple[Outcome, asyncio.Future[None]]], exc: Exception
    ) -> None:
        """A group that failed for a reason of its own: one outcome that cannot be written
        must not hold back the others, so each is written alone."""
        if len(group) == 1:
            _settle(group, exc)
            return
        for one in group:
            await self._commit([one])

    async def write(self, conn: asyncpg.Connection, outcomes: Sequence[Outcome]) -> Counts:
        """Write `outcomes` in `conn`'s transaction; returns the metric counts to take once
        it committed (not before: a commit that fails is written, and counted, again)."""
        now = _now()
        counts: Counts = []
        sent = [o.delivery for o in outcomes if o.sent]
        if sent:
            await self._sent(conn, sent, now, counts)
        for o in outcomes:
            d = o.delivery
            if o.failure is not None:
                await self._failed(conn, d, o.failure, now, counts)
            elif o.unsendable is Unsendable.NO_ADDRESS:
                failure = ChannelFailure("no_address", permanent=True)
                await self._failed(conn, d, failure, now, counts)
            elif o.unsendable is Unsendable.CONSENT_MISSING:
                await queue.cancel_family(conn, d.campus_id, d.student_ref, "consent_missing", now)
                counts.append(metrics.CANCELLED.inc)
            elif o.unsendable is Unsendable.CALL_TASK:
                await queue.mark_call_task(conn, d.id, now)
                if _carrier(d):  # the alerts it carried are the call's too
                    await queue.settle_riders(conn, [d], now, status="call_task")
                counts.append(metrics.CALL_TASKS.inc)
                logger.warning("no message reached the on-duty line: call task %s", d.id)
        return counts

    async def _sent(
        self,
        conn: asyncpg.Connection,
        sent: Sequence[queue.Delivery],
        now: datetime,
        counts: Counts,
    ) -> None:
        ours = await queue.mark_sent(conn, [(d.id, d.attempts + 1) for d in sent], now)
        # A row cancelled meanwhile (a withdrawal) is not reported as delivered.
        delivered = [d for d in sent if d.id in ours]
        attempts = {d.id: d.attempts + 1 for d in delivered}
        # The alerts a bundle's message carried were delivered with it, each on its own.
        carried = await queue.settle_riders(conn, [d for d in delivered if _carrier(d)], now)
        attempts.update((d.id, d.attempts) for d in carried)
        delivered += carried
        await outbox.enqueue_events(
            conn,
            [
                OutgoingEvent(
                    NotificationDelivered(**_facts(d, attempts[d.id]), delivered_at=now),
                    d.campus_id,
                    d.student_ref,
                    now,
                )
                for d in delivered
            ],
        )
        raised = {
            d.alert_id: d
            for d in delivered
            if d.alert_id
            and d.source_event_type.endswith("alert.raised")
            and d.context.get("severity")
        }
        firsts = await queue.first_sent_of_alerts(
            conn, [(a, d.campus_id) for a, d in raised.items()], now
        )
        for d in delivered:
            counts.append(metrics.SENT.labels(d.channel.value, d.source_event_type).inc)
        for alert_id in firsts:
            d = raised[alert_id]
            counts.append(
                partial(
                    metrics.ALERT_TO_FIRST_DELIVERY_SECONDS.labels(d.context["severity"]).observe,
                    max((now - d.source_time).total_seconds(), 0.0),
                )
            )

    async def _failed(
        self,
        conn: asyncpg.Connection,
        d: queue.Delivery,
        failure: ChannelFailure,
        now: datetime,
        counts: Counts,
    ) -> None:
        attempts = d.attempts + 1
        retry = self.policy.retry
        if not failure.permanent and not retry.exhausted(attempts):
            await queue.retry_later(
                conn, d.id, attempts, now + retry.delay(attempts, self.draw), failure.code
            )
            counts.append(metrics.RETRIED.labels(d.channel.value, d.source_event_type).inc)
            return
        if not await queue.mark_failed(conn, d.id, attempts, failure.code, now):
            return
        fallback = await self._fallback(conn, d)
        if fallback is not None:
            # A bundle's fallback keeps its source event id: it carries the same alerts.
            again = d.fallback(fallback, now)
            # A channel that does not coalesce (the duty webhook) lets a burst through one by
            # one: its fallbacks are first messages on a phone, one at once and one bundle.
            # A coalescing channel's fallbacks are few already (`bursts`' docstring).
            held = d.channel not in bursts.HUMAN_CHANNELS and await bursts.hold_bursts(
                conn, self.policy, [again], now
            )
            if not held:
                await queue.enqueue(conn, again)
        elif _carrier(d):
            failed = await queue.settle_riders(conn, [d], now, status="failed", error=failure.code)
            for r in failed:
                await outbox.enqueue_event(
                    conn,
                    NotificationFailed(**_facts(r, 1), reason=failure.code, failed_at=now),
                    campus_id=r.campus_id,
                    student_ref=r.student_ref,
                    time=now,
                )
        await outbox.enqueue_event(
            conn,
            NotificationFailed(
                **_facts(d, attempts),
                reason=failure.code,
                fallback_channel=fallback,
                failed_at=now,
            ),
            campus_id=d.campus_id,
            student_ref=d.student_ref,
            time=now,
        )
        counts.append(metrics.FAILED.labels(d.channel.value, d.source_event_type).inc)
        logger.warning(
            "notification %s failed on %s (%s); fallback: %s",
            d.notification_id,
            d.channel.value,
            failure.code,
            fallback.value if fallback else "none",
        )

    async def _fallback(self, conn: asyncpg.Connection, d: queue.Delivery) -> Channel | None:
        """The next channel of the recipient's chain that has not been tried for this event."""
        if d.recipient_kind is RecipientKind.FAMILY:
            student_ref, _, rank = d.recipient_ref.partition("#")
            members = await contacts_repo.family_contacts(
                conn, self.cipher, d.campus_id, student_ref
            )
            member = next((m for m in members if str(m.rank) == rank), None)
            chain = family_chain(member, self.policy.channels) if member else None
        else:
            found = await contacts_repo.staff_contacts(
                conn, self.cipher, d.campus_id, [d.recipient_ref]
            )
            contact = found.get(d.recipient_ref)
            chain = staff_chain(contact, self.policy.channels) if contact else None
        if chain is None:
            return None
        if d.channel is Channel.WEBHOOK:
            return chain.first()
        return chain.after(d.channel)


def _carrier(d: queue.Delivery) -> bool:
    """A bundle's message that carries alerts, each recorded as a delivery of its own."""
    return d.template == Template.ALERTS_BURST.value


def _settle(group: list[tuple[Outcome, asyncio.Future[None]]], error: Exception | None) -> None:
    for _, done in group:
        if done.done():
            continue
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)


def _facts(d: queue.Delivery, attempts: int) -> dict[str, Any]:
    return {
        "notification_id": d.notification_id,
        "source_event_id": d.source_event_id,
        "source_event_type": d.source_event_type,
        "alert_id": d.alert_id,
        "case_id": d.case_id,
        "student_ref": d.student_ref,
        "recipient_kind": d.recipient_kind,
        "recipient_role": d.recipient_role,
        "channel": d.channel,
        "attempts": attempts,
        "created_at": d.created_at,
    }


def _now() -> datetime:
    return datetime.now(UTC)
