"""The delivery worker: claim due messages, render, send, and record what happened.

A claim commits before anything is sent (status `sending` under a lease), the send happens
outside any transaction, and its outcome commits with the notification event in the outbox.
Killed between claim and outcome, a worker leaves its rows to be claimed again once the
lease runs out, so nothing is lost; a channel that accepted a message and then lost the
answer is the one case that can repeat it, as with any at-least-once channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.events.notify import (
    NotificationChannel as Channel,
)
from shouwang_contracts.events.notify import (
    NotificationDelivered,
    NotificationFailed,
    RecipientKind,
)
from shouwang_contracts.vocabulary import Language
from shouwang_servicekit.backoff import Backoff

from .. import metrics
from ..adapters import contacts_repo, links, outbox, queue, state
from ..adapters.channels import ChannelFailure, Outgoing, Sender
from ..adapters.db import worker_transaction
from ..adapters.links import LinkSigner
from ..adapters.templates import Templates
from ..domain.contacts import family_chain, staff_chain
from ..domain.links import LinkClaims
from ..domain.routing import Template
from .policy import NotifyPolicy

logger = logging.getLogger("shouwang.notify.dispatch")


@dataclass
class Dispatcher:
    """Sends what is due, with per-channel rate limits and retries."""

    pool: asyncpg.Pool
    cipher: NoteCipher
    senders: Mapping[Channel, Sender]
    templates: Templates
    signer: LinkSigner
    policy: NotifyPolicy
    public_base_url: str
    # Per-channel rate limits: reusable async context managers (aiolimiter's buckets).
    limits: Mapping[Channel, AbstractAsyncContextManager[Any]]
    batch: int = 50
    lease: timedelta = timedelta(seconds=60)
    concurrency: int = 20
    draw: Callable[[], float] = random.random

    poll_seconds: float = 0.2
    # Called after an outcome (and its event) committed: the outbox relay publishes at once.
    on_outcome: Callable[[], None] = lambda: None

    def __post_init__(self) -> None:
        self._slots = asyncio.Semaphore(self.concurrency)
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Messages were queued: look now rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        """Send what is due until cancelled: at once after `wake()`, else every poll; a full
        batch is followed by the next at once. Several of these share the queue (SKIP LOCKED),
        in one process as across replicas. A database away is waited out with back-off."""
        errors = Backoff(self.poll_seconds, 10.0)
        while True:
            self._wake.clear()
            try:
                claimed = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                pause = errors.next_pause()
                logger.exception("dispatch failed; retrying in %.1f s", pause)
                await asyncio.sleep(pause)
                continue
            errors.reset()
            if claimed >= self.batch:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)

    async def run_once(self) -> int:
        """Claim one batch and send it; returns how many were claimed."""
        now = datetime.now(UTC)
        async with worker_transaction(self.pool) as conn:
            claimed = await queue.claim(conn, self.batch, self.lease, now)
        if claimed:
            await asyncio.gather(*(self._guarded(d) for d in claimed))
        return len(claimed)

    async def _guarded(self, delivery: queue.Delivery) -> None:
        async with self._slots:
            try:
                await self.deliver(delivery)
            except Exception:
                # The row stays `sending`; its lease runs out and it is tried again.
                logger.exception("delivery %s failed unexpectedly", delivery.notification_id)

    async def deliver(self, delivery: queue.Delivery) -> None:
        """Send one claimed message and commit its outcome."""
        async with worker_transaction(self.pool) as conn:
            outgoing = await self._prepare(conn, delivery)
        if outgoing is None:
            return
        if delivery.channel is Channel.PHONE_CALL:
            async with worker_transaction(self.pool) as conn:
                await queue.mark_call_task(conn, delivery.id, datetime.now(UTC))
            metrics.CALL_TASKS.inc()
            logger.warning("no message reached the on-duty line: call task %s", delivery.id)
            return
        failure: ChannelFailure | None = None
        limit = self.limits.get(delivery.channel) or nullcontext()
        try:
            async with limit:
                await self.senders[delivery.channel].send(outgoing)
        except ChannelFailure as exc:
            failure = exc
        async with worker_transaction(self.pool) as conn:
            if failure is None:
                await self._sent(conn, delivery)
            else:
                await self._failed(conn, delivery, failure)
        self.on_outcome()

    async def _prepare(self, conn: asyncpg.Connection, d: queue.Delivery) -> Outgoing | None:
        """The address and text, or None when the message must not or cannot go."""
        if d.recipient_kind is RecipientKind.FAMILY:
            case = await state.get_case(conn, d.case_id) if d.case_id else None
            if case is None or case.closed or not (case.consent and case.consent.allows_contact):
                await queue.cancel_family(
                    conn, d.campus_id, d.student_ref, "consent_missing", _now()
                )
                metrics.CANCELLED.inc()
                return None
            student_ref, _, rank = d.recipient_ref.partition("#")
            members = await contacts_repo.family_contacts(
                conn, self.cipher, d.campus_id, student_ref
            )
            member = next((m for m in members if str(m.rank) == rank), None)
            address = member.address(d.channel) if member else None
        else:
            found = await contacts_repo.staff_contacts(
                conn, self.cipher, d.campus_id, [d.recipient_ref]
            )
            contact = found.get(d.recipient_ref)
            if d.channel is Channel.WEBHOOK:
                address = self.policy.on_duty_webhook
            else:
                address = contact.address(d.channel) if contact else None
        if address is None:
            await self._failed(conn, d, ChannelFailure("no_address", permanent=True))
            return None
        context = dict(d.context)
        link_id = context.pop("link_id", None)
        context["link"] = context["short_link"] = None
        if link_id:
            link = await links.find_link(conn, link_id)
            if link is not None:
                code = await links.short_code_of(conn, link_id)
                token = self.signer.sign(
                    LinkClaims(
                        link.link_id,
                        link.alert_id,
                        link.person_ref,
                        link.campus_id,
                        link.expires_at,
                    )
                )
                base = self.public_base_url.rstrip("/")
                context["link"] = f"{base}/ack/{token}"
                context["short_link"] = f"{base}/ack/s/{code}"
        language: Language = "en" if d.language == "en" else "zh-CN"
        rendered = self.templates.message(Template(d.template), language, context)
        return Outgoing(d.channel, address, rendered.subject, rendered.body, rendered.short)

    async def _sent(self, conn: asyncpg.Connection, d: queue.Delivery) -> None:
        now = _now()
        if not await queue.mark_sent(conn, d.id, d.attempts + 1, now):
            return  # cancelled meanwhile (a withdrawal): nothing to report as delivered
        await outbox.enqueue_event(
            conn,
            NotificationDelivered(
                **_outcome(d, d.attempts + 1),
                delivered_at=now,
            ),
            campus_id=d.campus_id,
            student_ref=d.student_ref,
            time=now,
        )
        metrics.SENT.labels(d.channel.value, d.source_event_type).inc()
        if (
            d.alert_id
            and d.source_event_type.endswith("alert.raised")
            and d.context.get("severity")
            and await queue.first_sent_of_alert(conn, d.alert_id, d.campus_id, now)
        ):
            metrics.ALERT_TO_FIRST_DELIVERY_SECONDS.labels(d.context["severity"]).observe(
                max((now - d.source_time).total_seconds(), 0.0)
            )

    async def _failed(
        self, conn: asyncpg.Connection, d: queue.Delivery, failure: ChannelFailure
    ) -> None:
        now = _now()
        attempts = d.attempts + 1
        retry = self.policy.retry
        if not failure.permanent and not retry.exhausted(attempts):
            await queue.retry_later(
                conn, d.id, attempts, now + retry.delay(attempts, self.draw), failure.code
            )
            metrics.RETRIED.labels(d.channel.value, d.source_event_type).inc()
            return
        if not await queue.mark_failed(conn, d.id, attempts, failure.code, now):
            return
        fallback = await self._fallback(conn, d)
        if fallback is not None:
            await queue.enqueue(conn, d.fallback(fallback, now))
        await outbox.enqueue_event(
            conn,
            NotificationFailed(
                **_outcome(d, attempts),
                reason=failure.code,
                fallback_channel=fallback,
                failed_at=now,
            ),
            campus_id=d.campus_id,
            student_ref=d.student_ref,
            time=now,
        )
        metrics.FAILED.labels(d.channel.value, d.source_event_type).inc()
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
        current = d.channel
        if current is Channel.WEBHOOK:
            return chain.first()
        return chain.after(current)

    async def observe_queue(self) -> None:
        """Queue depth and the oldest due message's age, for /metrics."""
        async with worker_transaction(self.pool) as conn:
            depth, oldest = await queue.queue_depth(conn, _now())
        metrics.QUEUE_DEPTH.set(depth)
        metrics.QUEUE_OLDEST_SECONDS.set(oldest)


def _outcome(d: queue.Delivery, attempts: int) -> dict[str, Any]:
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
