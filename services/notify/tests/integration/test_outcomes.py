"""A message that went out is recorded as sent, even when the database fails at that moment."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from notify_delivery import (
    FAST_RETRY,
    SHANGHAI,
    SIGNER,
    drain,
    load_samples,
    notice,
    place_student,
    rows,
    senders,
)
from notify_receivers import HttpSink, SmtpSink
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_contracts.vocabulary import Severity
from shouwang_notify import metrics
from shouwang_notify.adapters.db import worker_transaction
from shouwang_notify.adapters.templates import Templates
from shouwang_notify.service_layer.alerts import plan_alert
from shouwang_notify.service_layer.dispatch import Dispatcher, Lane
from shouwang_notify.service_layer.messages import Composer
from shouwang_notify.service_layer.outcomes import Counts, Outcome, Outcomes
from shouwang_notify.service_layer.policy import NotifyPolicy

pytestmark = pytest.mark.integration
POLICY = NotifyPolicy(retry=FAST_RETRY, zone=SHANGHAI)
LEASE = timedelta(seconds=1)


class LosesTheFirstCommit(Outcomes):
    """The connection drops as the first outcomes are written (a failover, a network blip)."""

    lost = 0

    async def write(self, conn: asyncpg.Connection, outcomes: Sequence[Outcome]) -> Counts:
        counts = await super().write(conn, outcomes)
        if not self.lost:
            self.lost += 1
            raise asyncpg.exceptions.ConnectionDoesNotExistError(
                "connection was closed in the middle of operation"
            )
        return counts


async def test_a_lost_outcome_commit_does_not_send_the_message_twice(
    notify_pool: asyncpg.Pool,
    cipher: NoteCipher,
    pseudonyms: Pseudonymizer,
    smtp_sink: SmtpSink,
    http_sink: HttpSink,
    http_client: httpx.AsyncClient,
) -> None:
    await load_samples(notify_pool, cipher, pseudonyms)
    await place_student(notify_pool, pseudonyms)
    async with worker_transaction(notify_pool) as conn:
        # Only the owner: T3001, by SMS.
        alert = notice(pseudonyms, Severity.SEVERE, inform=())
        await plan_alert(conn, cipher, POLICY, alert, datetime.now(UTC))
    sent_before, first_before = _sms_sent(), _first_deliveries()
    outcomes = LosesTheFirstCommit(notify_pool, cipher, POLICY)
    dispatcher = Dispatcher(
        pool=notify_pool,
        cipher=cipher,
        composer=Composer(Templates(SHANGHAI), SIGNER, "https://shouwang.example.edu"),
        policy=POLICY,
        lanes=[Lane("bulk", senders(smtp_sink, http_sink, http_client))],
        lease=LEASE,
        outcomes=outcomes,
    )
    await drain(dispatcher)
    assert outcomes.lost == 1
    # Long after the lease ran out, nothing is claimed and sent again.
    await asyncio.sleep(2 * LEASE.total_seconds())
    await drain(dispatcher)
    assert len(http_sink.at("/sms")) == 1
    (row,) = await rows(notify_pool, "SELECT status, attempts FROM deliveries")
    assert (row["status"], row["attempts"]) == ("sent", 1)
    events = await rows(notify_pool, "SELECT id FROM outbox")
    assert len(events) == 1  # one notification.delivered
    # The outcome written twice (the first commit lost) is counted once.
    assert _sms_sent() - sent_before == 1
    assert _first_deliveries() - first_before == 1


def _sms_sent() -> float:
    value = metrics.REGISTRY.get_sample_value(
        "notify_sent_total", {"channel": "sms", "event_type": "shouwang.alert.raised"}
    )
    return value or 0.0


def _first_deliveries() -> float:
    value = metrics.REGISTRY.get_sample_value(
        "notify_alert_to_first_delivery_seconds_count", {"severity": "severe"}
    )
    return value or 0.0
