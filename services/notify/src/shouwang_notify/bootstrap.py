"""Notify's composition root: settings → pool, keys, channels, broker, consumers, workers."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from shouwang_contracts.events.notify import NotificationChannel as Channel
from shouwang_servicekit.kafka.progress import LAG_INTERVAL_SECONDS
from shouwang_servicekit.processed import RETENTION_INTERVAL_SECONDS, ProcessedEvents
from shouwang_servicekit.resources import open_pool
from shouwang_servicekit.tasks import BackgroundTasks, Chore

from . import metrics
from .adapters.channels import DingTalkRobot, JsonWebhook, Sender, SmsGateway, WeComRobot
from .adapters.db import worker_transaction
from .adapters.links import LinkSigner
from .adapters.outbox import outbox_relay
from .adapters.retention import (
    purge_delivery_records,
    purge_family_contacts_never_named,
    purge_family_contacts_of_leavers,
    purge_staff_contacts_of_leavers,
)
from .adapters.smtp import SmtpEmail, SmtpSettings
from .adapters.templates import Templates
from .config import NotifySettings
from .container import Notify
from .domain.links import app_page
from .domain.schedule import RetryPolicy
from .entrypoints.kafka import register_consumers
from .service_layer.bundles import flush_bundles
from .service_layer.dispatch import Dispatcher, Lane
from .service_layer.messages import Composer
from .service_layer.outcomes import Outcomes
from .service_layer.planner import AlertPlanner
from .service_layer.policy import CRITICAL_PRIORITY, LOWEST_PRIORITY, NotifyPolicy
from .service_layer.rates import ChannelRate

logger = logging.getLogger("shouwang.notify")
QUEUE_GAUGES_SECONDS = 5.0
# How soon the relay publishes what no notification announced, and a replica takes it over.
RELAY_SAFETY_POLL_SECONDS = 1.0
PURGE_EVERY_SECONDS = 600.0
OUTBOX_KEEP = timedelta(days=7)
# A lane holds at most about this many seconds' worth of a throttled channel's messages.
IN_FLIGHT_SECONDS = 2.0


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
        informed_window=timedelta(seconds=settings.informed_window_seconds),
        burst_window=timedelta(seconds=settings.alert_burst_window_seconds),
        follow_up_lead=timedelta(minutes=settings.follow_up_lead_minutes),
        link_floor=timedelta(hours=settings.link_floor_hours),
        on_duty_webhook=settings.on_duty_webhook_url,
    )


def senders(
    settings: NotifySettings,
    client: Callable[[Channel], httpx.AsyncClient],
    *,
    smtp_connections: int,
) -> dict[Channel, Sender]:
    """The channels this deployment configured, for one lane: its own SMTP connections and
    its own HTTP connection pool per channel (`client(channel)`). The on-duty call task
    needs no sender."""
    found: dict[Channel, Sender] = {}
    if settings.smtp_host:
        found[Channel.EMAIL] = SmtpEmail(
            SmtpSettings(
                settings.smtp_host,
                settings.smtp_port,
                settings.smtp_sender,
                settings.smtp_user,
                settings.smtp_password.get_secret_value() if settings.smtp_password else None,
                settings.smtp_security,
            ),
            timeout=settings.channel_timeout_seconds,
            connections=smtp_connections,
        )
    if settings.sms_url:
        token = settings.sms_token.get_secret_value() if settings.sms_token else None
        found[Channel.SMS] = SmsGateway(client(Channel.SMS), settings.sms_url, token)
    if settings.wecom_robot_key:
        found[Channel.WECOM] = WeComRobot(
            client(Channel.WECOM),
            settings.wecom_api_base,
            settings.wecom_robot_key.get_secret_value(),
        )
    if settings.dingtalk_robot_token:
        secret = settings.dingtalk_robot_secret
        found[Channel.DINGTALK] = DingTalkRobot(
            client(Channel.DINGTALK),
            settings.dingtalk_api_base,
            settings.dingtalk_robot_token.get_secret_value(),
            secret.get_secret_value() if secret else None,
        )
    if settings.on_duty_webhook_url:
        found[Channel.WEBHOOK] = JsonWebhook(client(Channel.WEBHOOK))
    return found


def rate_limits(settings: NotifySettings) -> dict[Channel, ChannelRate]:
    return {
        Channel.EMAIL: ChannelRate(settings.rate_email),
        Channel.SMS: ChannelRate(settings.rate_sms),
        Channel.WECOM: ChannelRate(settings.rate_wecom),
        Channel.DINGTALK: ChannelRate(settings.rate_dingtalk),
        Channel.WEBHOOK: ChannelRate(settings.rate_webhook),
    }


def lanes(
    settings: NotifySettings, limits: dict[Channel, ChannelRate], resources: AsyncExitStack
) -> list[Lane]:
    """The bulk lane (every message, the gravest first) and the urgent lane (critical only:
    slots, SMTP connections and HTTP connection pools of its own, first at the rate limits).

    Each lane and HTTP channel has its own small httpx client: httpcore's pool scans its
    connections (and, for each idle one, all of them again) on every request's start and
    end, so one pool shared by every in-flight send cost more CPU than the sends did."""
    built = []
    for name, concurrency, connections, max_priority in (
        ("bulk", settings.dispatch_concurrency, settings.smtp_connections, LOWEST_PRIORITY),
        (
            "urgent",
            settings.urgent_concurrency,
            settings.urgent_smtp_connections,
            CRITICAL_PRIORITY,
        ),
    ):

        def client(channel: Channel, concurrency: int = concurrency) -> httpx.AsyncClient:
            # As many kept-alive connections as the lane may have in flight (httpx keeps
            # only 20 alive by default and would reconnect).
            opened = httpx.AsyncClient(
                timeout=settings.channel_timeout_seconds,
                limits=httpx.Limits(
                    max_connections=concurrency, max_keepalive_connections=concurrency
                ),
            )
            resources.push_async_callback(opened.aclose)
            return opened

        channels = senders(settings, client, smtp_connections=connections)
        caps = {c: r.in_flight_cap(IN_FLIGHT_SECONDS, concurrency) for c, r in limits.items()}
        caps[Channel.EMAIL] = min(caps[Channel.EMAIL], connections)
        urgent = max_priority == CRITICAL_PRIORITY
        built.append(Lane(name, channels, concurrency, caps, max_priority, urgent))
    return built


async def bootstrap(settings: NotifySettings) -> Notify:
    """Connect to PostgreSQL and Kafka, subscribe the consumers and start the workers."""
    # httpx logs each request's URL at INFO: the robots' keys and tokens travel in the query.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # aiosmtplib logs the conversation (recipients included) at DEBUG.
    logging.getLogger("aiosmtplib").setLevel(logging.WARNING)
    signer = LinkSigner(settings.link_key_list)
    stack = AsyncExitStack()  # what started, closed newest first
    try:
        pool = await open_pool(
            stack,
            settings.database_url,
            min_size=settings.db_pool_min,
            max_size=settings.db_pool_max,
        )
        # The workers sending messages have a pool of their own: however many sends are in
        # flight, the consumers and planners always find a connection.
        dispatch_pool = await open_pool(
            stack, settings.database_url, min_size=1, max_size=settings.dispatch_db_pool_max
        )
        limits = rate_limits(settings)
        sending = lanes(settings, limits, stack)
        for lane in sending:
            for sender in lane.senders.values():
                if isinstance(sender, SmtpEmail):
                    stack.push_async_callback(sender.close)
        enabled = frozenset(sending[0].senders) | {Channel.PHONE_CALL}
        policy = policy_of(settings, enabled)
        templates = Templates(policy.zone, app_page(settings.app_base_url, None))
        cipher = settings.note_cipher()
        dispatcher = Dispatcher(
            pool=dispatch_pool,
            cipher=cipher,
            composer=Composer(
                templates,
                signer,
                settings.public_base_url,
                settings.on_duty_webhook_url,
                settings.sms_link_base_url,
            ),
            policy=policy,
            lanes=sending,
            limits=limits,
            lease=timedelta(seconds=settings.lease_seconds),
            poll_seconds=settings.dispatch_poll_seconds,
            outcomes=Outcomes(
                dispatch_pool, cipher, policy, patience_seconds=settings.lease_seconds
            ),
        )
        planner = AlertPlanner(
            pool,
            cipher,
            policy,
            batch=settings.plan_batch,
            urgent_batch=settings.urgent_plan_batch,
            planned=dispatcher.wake,
            precedence=dispatcher.precedence,
        )
        broker = settings.kafka_clients("notify").broker(linger_ms=2)
        # Commits wake the relay at once (LISTEN/NOTIFY): the poll is its safety net only.
        relay = outbox_relay(pool, broker, batch=500, poll_seconds=RELAY_SAFETY_POLL_SECONDS)
        notify = Notify(
            settings=settings,
            pool=pool,
            cipher=cipher,
            pseudonyms=settings.pseudonymizer(),
            signer=signer,
            templates=templates,
            policy=policy,
            dispatcher=dispatcher,
            planner=planner,
            broker=broker,
            relay=relay,
            resources=stack,
        )
        register_consumers(notify)
        await broker.start()
        stack.push_async_callback(broker.stop)
        tasks = BackgroundTasks()
        # Stopped first, then the consumers (so no handler runs on a closed pool), then the pool.
        stack.push_async_callback(tasks.close)
        tasks.start(relay.run(), name="outbox-relay")
        tasks.start(planner.run(), name="planner")
        tasks.start(dispatcher.run(), name="dispatcher")
        tasks.every(settings.bundle_poll_seconds, _bundles(notify), name="bundles")
        tasks.every(QUEUE_GAUGES_SECONDS, _gauges(notify), name="queue-gauges")
        tasks.every(PURGE_EVERY_SECONDS, _purge(relay.purge_published), name="outbox-purge")
        tasks.every(LAG_INTERVAL_SECONDS, metrics.PROGRESS.measure, name="consumer-lag")
        # Notify's RLS lets a session see every campus with `shouwang.all_campuses` on.
        processed = ProcessedEvents(
            pool, schema="notify", campus_setting="shouwang.all_campuses", campuses=lambda: ("on",)
        )
        tasks.every(RETENTION_INTERVAL_SECONDS, processed.chore(), name="forget-processed-events")
        tasks.every(RETENTION_INTERVAL_SECONDS, _retention(notify), name="delivery-retention")
    except BaseException:
        await stack.aclose()  # a failed start leaves nothing open
        raise
    logger.info("notify started; channels: %s", ", ".join(sorted(c.value for c in enabled)))
    return notify


def _bundles(notify: Notify) -> Chore:
    async def chore() -> bool:
        async with worker_transaction(notify.pool) as conn:
            queued = await flush_bundles(conn, notify.cipher, notify.policy, datetime.now(UTC))
        if queued:
            notify.wake_dispatcher()
        return False

    return chore


def _gauges(notify: Notify) -> Chore:
    async def chore() -> bool:
        await notify.dispatcher.observe_queue()
        await notify.planner.observe_inbox()
        return False

    return chore


def _retention(notify: Notify) -> Chore:
    """Delete what only served a delivery once it is older than the retention period, the
    family contacts of students long gone or never on the roster (a mistyped 学号) and the
    contacts of staff long off the roster;
    again at once while a table gave a full batch."""
    keep = timedelta(days=notify.settings.delivery_retention_days)
    grace = timedelta(days=notify.settings.family_contacts_after_leaving_days)
    staff_grace = timedelta(days=notify.settings.staff_contacts_after_leaving_days)
    unnamed = timedelta(days=notify.settings.family_contacts_unnamed_days)
    batch = notify.settings.retention_batch

    async def chore() -> bool:
        now = datetime.now(UTC)
        async with worker_transaction(notify.pool) as conn:
            gone = await purge_delivery_records(conn, now - keep, batch)
            gone["family_contacts"] = await purge_family_contacts_of_leavers(
                conn, now - grace, batch
            )
            gone["family_contacts_unnamed"] = await purge_family_contacts_never_named(
                conn, now - unnamed, batch
            )
            gone["staff_contacts"] = await purge_staff_contacts_of_leavers(
                conn, now - staff_grace, batch
            )
        for table, n in gone.items():
            metrics.RETENTION_PURGED.labels(table).inc(n)
        return any(n == batch for n in gone.values())

    return chore


def _purge(purge: Callable[[timedelta], Awaitable[int]]) -> Chore:
    async def chore() -> bool:
        await purge(OUTBOX_KEEP)
        return False

    return chore
