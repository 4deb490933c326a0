"""Every Prometheus metric intake exposes, in its own registry."""

from __future__ import annotations

from functools import cache

from prometheus_client import CollectorRegistry, Counter, Histogram
from shouwang_servicekit.edge import HttpMetrics
from shouwang_servicekit.kafka.progress import ConsumerProgress

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP = HttpMetrics.register("intake", REGISTRY)
# Every consumer's lag, committed offset and records by outcome (measured by the kit).
PROGRESS = ConsumerProgress(REGISTRY)
EVENTS_PUBLISHED = Counter(
    "intake_events_published_total",
    "Events Kafka acknowledged, by topic.",
    ["topic"],
    registry=REGISTRY,
)
PUBLISH_LATENCY = Histogram(
    "intake_kafka_publish_duration_seconds",
    "Time for Kafka to acknowledge one report or screening (acks=all).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
    registry=REGISTRY,
)


@cache
def published(topic: str) -> Counter:
    """`EVENTS_PUBLISHED` for one topic, looked up once (`labels()` takes a lock and builds
    a tuple on every call); topics are few."""
    return EVENTS_PUBLISHED.labels(topic)


CENSUS_ROWS = Counter(
    "intake_census_rows_total",
    "Census rows read, by outcome: accepted, rejected, or incomplete (accepted with blanks or"
    " unreadable cells, graded on what they say).",
    ["outcome"],
    registry=REGISTRY,
)
RECEIPT_UPDATES = Counter(
    "intake_receipt_updates_total",
    "Case events applied to reporters' receipts, by resulting status.",
    ["status"],
    registry=REGISTRY,
)
