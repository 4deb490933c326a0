"""Notify's composition root: settings → pool, keys, channels, broker, consumers, workers."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import httpx
from aiolimiter import AsyncLimiter
from shouwang_contracts.events.notify import NotificationChannel as Channel
from shouwang_servicekit.kafka.progress import LAG_INTERVAL_SECONDS
from shouwang_servicekit.processed import RETENTION_INTERVAL_SECONDS, ProcessedEvents
from shouwang_servicekit.tasks import BackgroundTasks, Chore

from . import metrics
from .adapters.channels import (
    AppriseEmail,
    AppriseWebhook,
    DingTalkRobot,
    Sender,
    SmsGateway,
    SmtpSettings,
    WeComRobot,
)
from .adapters.db import worker_transaction
from .adapters.links import LinkSigner
from .adapters.outbox import outbox_relay
from .adapters.templates import Templates
from .config import NotifySettings
from .container import Notify
from .domain.schedule import RetryPolicy
from .entrypoints.kafka import register_consumers
from .service_layer.bundles import flush_bundles
from .service_layer.dispatch import Dispatcher
from .service_layer.policy import NotifyPolicy

logger = logging.getLogger("shouwang.notify")
QUEUE_GAUGES_SECONDS = 5.0
PURGE_EVERY_SECONDS = 600.0
OUTBOX_KEEP = timedelta(days=7)


def policy_of(settings: NotifySettings, channels: frozenset[Channel]) -> NotifyPolicy:
    return NotifyPolicy(
        zone=ZoneInfo(settings.timezone),
        channels=channels,
        retry=RetryPolicy(
            base=timedelta(seconds=settings.retry_base_seconds),
            cap=timedelta(seconds=settings.retry_cap_seconds),
            max_attempts=settings.retry_attempts,
        ),
        default_digest_hour=settings.default_digest_hour,
        case_batch_window=timedelta(seconds=settings.case_batch_seconds),
        follow_up_lead=timedelta(minutes=settings.follow_up_lead_minutes),
        link_floor=timedelta(hours=settings.link_floor_hours),
        on_duty_webhook=settings.on_duty_webhook_url,
    )


def senders(settings: NotifySettings, client: httpx.AsyncClient) -> dict[Channel, Sender]:
    """The channels this deployment configured; the on-duty call task needs no sender."""
    found: dict[Channel, Sender] = {}
    if settings.smtp_host:
        found[Channel.EMAIL] = AppriseEmail(
            SmtpSettings(
                settings.smtp_host,
                settings.smtp_port,
                settings.smtp_sender,
                settings.smtp_user,
                settings.smtp_password.get_secret_value() if settings.smtp_password else None,
                settings.smtp_security,
            ),
            timeout=settings.channel_timeout_seconds,
        )
    if settings.sms_url:
        token = settings.sms_token.get_secret_value() if settings.sms_token else None
        found[Channel.SMS] = SmsGateway(client, settings.sms_url, token)
    if settings.wecom_robot_key:
        found[Channel.WECOM] = WeComRobot(
            client, settings.wecom_api_base, settings.wecom_robot_key.get_secret_value()
        )
    if settings.dingtalk_robot_token:
        secret = settings.dingtalk_robot_secret
        found[Channel.DINGTALK] = DingTalkRobot(
            client,
            settings.dingtalk_api_base,
            settings.dingtalk_robot_token.get_secret_value(),
            secret.get_secret_value() if secret else None,
        )
    if settings.on_duty_webhook_url:
        found[Channel.WEBHOOK] = AppriseWebhook(timeout=settings.channel_timeout_seconds)
    return found


def _limits(settings: NotifySettings) -> dict[Channel, AsyncLimiter]:
    rates = {
        Channel.EMAIL: settings.rate_email,
        Channel.SMS: settings.rate_sms,
        Channel.WECOM: settings.rate_wecom,
        Channel.DINGTALK: settings.rate_dingtalk,
        Channel.WEBHOOK: settings.rate_webhook,
    }
    # A second's worth may go at once, then the rate; below one a second, one per period.
    return {
        channel: AsyncLimiter(rate, 1.0) if rate >= 1 else AsyncLimiter(1, 1 / max(rate, 0.001))
        for channel, rate in rates.items()
    }


async def bootstrap(settings: NotifySettings) -> Notify:
    """Connect to PostgreSQL and Kafka, subscribe the consumers and start the workers."""
    # Apprise logs hosts and recipients at WARNING when a send fails; the failure reaches us
    # as a result (and our logs as a code), so its own lines stay out of the JSON logs.
    logging.getLogger("apprise").setLevel(logging.CRITICAL)
    # httpx logs each request's URL at INFO: the robots' keys and tokens travel in the query.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    signer = LinkSigner(settings.link_key_list)
    stack = AsyncExitStack()  # what started, closed newest first
    try:
        pool = await asyncpg.create_pool(
            settings.database_url.get_secret_value(),
            min_size=settings.db_pool_min,
            max_size=settings.db_pool_max,
            command_timeout=10,
        )
        stack.push_async_callback(pool.close)
        # The workers sending messages have a pool of their own: however many sends are in
        # flight, the consumers that plan an alert's messages always find a connection.
        dispatch_pool = await asyncpg.create_pool(
            settings.database_url.get_secret_value(),
            min_size=1,
            max_size=settings.dispatch_db_pool_max,
            command_timeout=10,
        )
        stack.push_async_callback(dispatch_pool.close)
        client = httpx.AsyncClient(timeout=settings.channel_timeout_seconds)
        stack.push_async_callback(client.aclose)
        channels = senders(settings, client)
        enabled = frozenset(channels) | {Channel.PHONE_CALL}
        policy = policy_of(settings, enabled)
        templates = Templates(policy.zone)
        cipher = settings.note_cipher()
        dispatcher = Dispatcher(
            pool=dispatch_pool,
            cipher=cipher,
            senders=channels,
            templates=templates,
            signer=signer,
            policy=policy,
            public_base_url=settings.public_base_url,
            limits=_limits(settings),
            batch=settings.dispatch_batch,
            lease=timedelta(seconds=settings.lease_seconds),
            concurrency=settings.dispatch_concurrency,
            poll_seconds=settings.dispatch_poll_seconds,
        )
        broker = settings.kafka_clients("notify").broker(linger_ms=2)
        relay = outbox_relay(pool, broker, batch=500, poll_seconds=0.5)
        notify = Notify(
            settings=settings,
            pool=pool,
            cipher=cipher,
            pseudonyms=settings.pseudonymizer(),
            signer=signer,
            templates=templates,
            policy=policy,
            dispatcher=dispatcher,
            broker=broker,
            relay=relay,
            resources=stack,
        )
        dispatcher.on_outcome = notify.wake_relay
        register_consumers(notify)
        await broker.start()
        stack.push_async_callback(broker.stop)
        tasks = BackgroundTasks()
        # Stopped first, then the consumers (so no handler runs on a closed pool), then the pool.
        stack.push_async_callback(tasks.close)
        tasks.start(relay.run(), name="outbox-relay")
        tasks.start(dispatcher.run(), name="dispatcher")
        tasks.every(settings.bundle_poll_seconds, _bundles(notify), name="bundles")
        tasks.every(QUEUE_GAUGES_SECONDS, _gauges(dispatcher), name="queue-gauges")
        tasks.every(PURGE_EVERY_SECONDS, _purge(relay.purge_published), name="outbox-purge")
        tasks.every(LAG_INTERVAL_SECONDS, metrics.PROGRESS.measure, name="consumer-lag")
        # Notify's RLS lets a session see every campus with `shouwang.all_campuses` on.
        processed = ProcessedEvents(
            pool, schema="notify", campus_setting="shouwang.all_campuses", campuses=lambda: ("on",)
        )
        tasks.every(RETENTION_INTERVAL_SECONDS, processed.chore(), name="forget-processed-events")
    except BaseException:
        await stack.aclose()  # a failed start leaves nothing open
        raise
    logger.info(
        "notify started; channels: %s", ", ".join(sorted(c.value for c in channels)) or "none"
    )
    return notify


def _bundles(notify: Notify) -> Chore:
    async def chore() -> bool:
        async with worker_transaction(notify.pool) as conn:
            queued = await flush_bundles(conn, notify.cipher, notify.policy, datetime.now(UTC))
        if queued:
            notify.wake_dispatcher()
        return False

    return chore


def _gauges(dispatcher: Dispatcher) -> Chore:
    async def chore() -> bool:
        await dispatcher.observe_queue()
        return False

    return chore


def _purge(purge: Callable[[timedelta], Awaitable[int]]) -> Chore:
    async def chore() -> bool:
        await purge(OUTBOX_KEEP)
        return False

    return chore
