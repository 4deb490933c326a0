"""Every Prometheus object notify exposes, in one registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from shouwang_servicekit.edge import HttpMetrics
from shouwang_servicekit.kafka.progress import ConsumerProgress

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP = HttpMetrics.register("notify", REGISTRY)
# Every consumer's lag, committed offset and records by outcome (measured by the kit).
PROGRESS = ConsumerProgress(REGISTRY)

SENT = Counter(
    "notify_sent",
    "Messages a channel accepted, by channel and source event type.",
    ["channel", "event_type"],
    registry=REGISTRY,
)
FAILED = Counter(
    "notify_failed",
    "Messages given up on a channel (permanent failure or retries exhausted).",
    ["channel", "event_type"],
    registry=REGISTRY,
)
RETRIED = Counter(
    "notify_retried",
    "Send attempts that failed and were scheduled again.",
    ["channel", "event_type"],
    registry=REGISTRY,
)
DEDUPLICATED = Counter(
    "notify_deduplicated",
    "Events or messages not queued again: a redelivered event, or a message already queued.",
    ["channel", "event_type"],
    registry=REGISTRY,
)
CALL_TASKS = Counter(
    "notify_call_tasks",
    "Phone-call tasks handed to the counselling center when no message reached the on-duty line.",
    registry=REGISTRY,
)
CANCELLED = Counter(
    "notify_cancelled",
    "Family messages stopped before sending (consent withdrawn or declined, case closed).",
    registry=REGISTRY,
)
UNREACHED = Counter(
    "notify_unreached",
    "Recipients who could not be reached at all (no contact, nobody holds the role).",
    ["reason"],
    registry=REGISTRY,
)
ALERT_TO_FIRST_DELIVERY_SECONDS = Histogram(
    "notify_alert_to_first_delivery_seconds",
    "Time from `alert.raised` to the channel accepting the alert's first message, by severity.",
    ["severity"],
    buckets=(0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0),
    registry=REGISTRY,
)
QUEUE_DEPTH = Gauge("notify_queue_depth", "Messages due or being sent.", registry=REGISTRY)
QUEUE_OLDEST_SECONDS = Gauge(
    "notify_queue_oldest_seconds",
    "Age of the oldest message that is due and not yet sent.",
    registry=REGISTRY,
)
DEAD_LETTERS = Counter(
    "notify_dead_letters",
    "Poison records sent to a dead-letter topic.",
    ["topic"],
    registry=REGISTRY,
)
ACKNOWLEDGED = Counter(
    "notify_links_confirmed", "Alerts confirmed through a message's link.", registry=REGISTRY
)
LINKS_REFUSED = Counter(
    "notify_links_refused", "Link openings refused, by reason.", ["reason"], registry=REGISTRY
)
OUTBOX_PUBLISHED = Counter(
    "notify_outbox_published",
    "Notification events the outbox relay published.",
    registry=REGISTRY,
)
OUTBOX_LISTENING = Gauge(
    "notify_outbox_relay_listening",
    "1 while this replica leads the outbox lane and hears its commits at once (LISTEN); 0 while"
    " it does not (it follows, or leads polling: then events wait for the safety-net poll).",
    ["lane"],
    registry=REGISTRY,
)
ALERTS_WAITING = Gauge(
    "notify_alerts_waiting",
    "Alerts taken off Kafka and not yet planned into messages (the inbox).",
    registry=REGISTRY,
)
ALERTS_WAITING_OLDEST_SECONDS = Gauge(
    "notify_alerts_waiting_oldest_seconds",
    "Age of the oldest alert waiting to be planned.",
    registry=REGISTRY,
)
PLANNING_FAILED = Counter(
    "notify_planning_failed",
    "Alerts whose planning failed for a reason of their own; each waits and is tried again.",
    registry=REGISTRY,
)
RETENTION_PURGED = Counter(
    "notify_retention_purged",
    "Rows deleted by the retention chore, by table: what only served a delivery, past"
    " NOTIFY_DELIVERY_RETENTION_DAYS; the contacts of students and staff who left, past their grace.",
    ["table"],
    registry=REGISTRY,
)
