"""Every Prometheus metric casework exposes, in its own registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge
from shouwang_servicekit.edge import HttpMetrics
from shouwang_servicekit.kafka.progress import ConsumerProgress

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP = HttpMetrics.register("casework", REGISTRY)
# Every consumer's lag, committed offset and records by outcome (measured by the kit).
PROGRESS = ConsumerProgress(REGISTRY)
OPEN_CASES = Gauge(
    "casework_open_cases",
    "Cases not closed, by campus, state and severity (refreshed periodically).",
    ["campus", "state", "severity"],
    registry=REGISTRY,
)
TRANSITIONS = Counter(
    "casework_case_transitions_total",
    "Case transitions committed, by from and to state.",
    ["from_state", "to_state"],
    registry=REGISTRY,
)
CASES_OPENED = Counter(
    "casework_cases_opened_total",
    "Cases opened from assessments or alerts, by severity.",
    ["severity"],
    registry=REGISTRY,
)
EVENTS_CONSUMED = Counter(
    "casework_events_consumed_total",
    "Records consumed, by topic and result (applied, duplicate, dead_lettered, retried).",
    ["topic", "result"],
    registry=REGISTRY,
)
OUTBOX_PUBLISHED = Counter(
    "casework_outbox_published_total",
    "Outbox events the broker acknowledged, by topic.",
    ["topic"],
    registry=REGISTRY,
)
OUTBOX_LAG = Gauge(
    "casework_outbox_lag_seconds",
    "Age of the oldest unpublished outbox event (0 when the outbox is drained).",
    registry=REGISTRY,
)
OUTBOX_LISTENING = Gauge(
    "casework_outbox_relay_listening",
    "1 while this replica leads the outbox lane and hears its commits at once (LISTEN); 0 while"
    " it does not (it follows, or leads polling: then events wait for the safety-net poll).",
    ["lane"],
    registry=REGISTRY,
)
FOLLOW_UPS_MISSED = Counter(
    "casework_follow_ups_missed_total",
    "Follow-ups that passed their due time unclosed (each counted once, when reminded).",
    registry=REGISTRY,
)
FILES_TEXT_ERASED = Counter(
    "casework_files_text_erased_total",
    "Student files whose free text retention erased (all cases closed past the period).",
    registry=REGISTRY,
)
