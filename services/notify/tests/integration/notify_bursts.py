"""A burst of severe alerts to one person, against real PostgreSQL and local receivers: the
census's alerts planned at once, the bundles flushed when their window ends, and what each
person was sent (`test_alert_bursts.py`: when messages go and what they hold;
`test_alert_burst_fallbacks.py`: links, and a bundle on the next channel).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from notify_delivery import (
    FAST_RETRY,
    SHANGHAI,
    dispatcher,
    notice,
    place_student,
    rows,
)
from notify_receivers import HttpSink, SmtpSink
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_contracts.vocabulary import Severity
from shouwang_notify.adapters.db import worker_transaction
from shouwang_notify.domain.routing import AlertNotice
from shouwang_notify.service_layer.alerts import plan_alerts
from shouwang_notify.service_layer.bundles import flush_bundles
from shouwang_notify.service_layer.dispatch import Dispatcher
from shouwang_notify.service_layer.policy import NotifyPolicy

POLICY = NotifyPolicy(retry=FAST_RETRY, zone=SHANGHAI)
WINDOW = POLICY.burst_window
DUTY_PHONE = "13800000999"  # 值班: SMS first
CENTER_PHONE = "13800000004"  # T3001, the counseling center: SMS first
STUDENTS = [f"20249980{n:02d}" for n in range(10)]


@dataclass
class World:
    """Notify's database and keys, and the receivers a dispatcher sends to."""

    pool: asyncpg.Pool
    cipher: NoteCipher
    pseudonyms: Pseudonymizer
    smtp: SmtpSink
    http: HttpSink
    send: Dispatcher
    policy: NotifyPolicy = POLICY

    async def burst(self, grades: list[Severity], at: datetime) -> list[AlertNotice]:
        """A census grades one student per entry within the second: one alert each, every
        one sent to the counseling center (the owner) and the on-duty line."""
        alerts = []
        for grade, no in zip(grades, STUDENTS, strict=False):
            await place_student(self.pool, self.pseudonyms, no)
            alerts.append(notice(self.pseudonyms, grade, student_no=no, on_duty=True, inform=()))
        async with worker_transaction(self.pool) as conn:
            await plan_alerts(conn, self.cipher, self.policy, alerts, at)
        return alerts

    async def plan(self, alert: AlertNotice, at: datetime) -> None:
        async with worker_transaction(self.pool) as conn:
            await plan_alerts(conn, self.cipher, self.policy, [alert], at)

    async def flush(self, at: datetime) -> int:
        async with worker_transaction(self.pool) as conn:
            return await flush_bundles(conn, self.cipher, self.policy, at)

    async def delivered(self) -> list[dict[str, Any]]:
        """The `notification.delivered` events published so far."""
        events = await rows(self.pool, "SELECT payload FROM outbox ORDER BY id")
        payloads = [json.loads(r["payload"]) for r in events]
        return [p["data"] for p in payloads if p["type"] == "shouwang.notification.delivered"]

    def texts_to(self, phone: str) -> list[str]:
        return [r.body["text"] for r in self.http.at("/sms") if r.body["to"] == phone]


def burst_world(
    pool: asyncpg.Pool,
    cipher: NoteCipher,
    pseudonyms: Pseudonymizer,
    smtp: SmtpSink,
    http: HttpSink,
    client: httpx.AsyncClient,
    policy: NotifyPolicy = POLICY,
) -> World:
    """A world whose dispatcher sends under `policy`."""
    send = dispatcher(pool, cipher, smtp, http, client, policy)
    return World(pool, cipher, pseudonyms, smtp, http, send, policy)


def began() -> datetime:
    """When the burst landed: a window ago, so its bundle is due now for the dispatcher."""
    return datetime.now(UTC) - WINDOW - timedelta(seconds=2)
