"""Every Prometheus object triage exposes, in one registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from shouwang_servicekit.edge import HttpMetrics

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP = HttpMetrics.register("triage", REGISTRY)

GRADED = Counter(
    "triage_assessments_graded",
    "Assessments graded, by severity and trigger.",
    ["severity", "trigger"],
    registry=REGISTRY,
)
ALERTS_RAISED = Counter(
    "triage_alerts_raised", "Alerts raised, by severity.", ["severity"], registry=REGISTRY
)
ALERTS_OPEN = Gauge(
    "triage_alerts_open",
    "Alerts waiting for acknowledgement, by severity.",
    ["severity"],
    registry=REGISTRY,
)
ESCALATIONS = Counter(
    "triage_escalations",
    "Alerts escalated one tier up because nobody acknowledged in time, by severity and new owner.",
    ["severity", "owner_role"],
    registry=REGISTRY,
)
REALERTS = Counter(
    "triage_realerts",
    "Severe and critical alerts re-alerted past the top of the ladder (nobody acknowledged).",
    ["severity"],
    registry=REGISTRY,
)
DEADLINE_BREACHES = Counter(
    "triage_deadline_breaches",
    "Acknowledgement deadlines that passed (each escalation and each top-of-ladder miss).",
    ["severity"],
    registry=REGISTRY,
)
ACKNOWLEDGED = Counter(
    "triage_alerts_acknowledged",
    "Alerts acknowledged, by severity.",
    ["severity"],
    registry=REGISTRY,
)
DEAD_LETTERS = Counter(
    "triage_dead_letters",
    "Poison records sent to a dead-letter topic.",
    ["topic"],
    registry=REGISTRY,
)
CONSUMER_LAG = Gauge(
    "triage_consumer_lag",
    "Records behind the partition's high watermark when the last record was handled.",
    ["topic", "partition"],
    registry=REGISTRY,
)
GRADING_SECONDS = Histogram(
    "triage_grading_seconds",
    "Time to grade one input and commit its effects, by trigger.",
    ["trigger"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
    registry=REGISTRY,
)
INPUT_TO_COMMIT_SECONDS = Histogram(
    "triage_input_age_at_commit_seconds",
    "Time from the input event's timestamp to the commit of its assessment, by trigger.",
    ["trigger"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
    registry=REGISTRY,
)
OUTBOX_PENDING = Gauge(
    "triage_outbox_pending", "Events waiting in the outbox, by lane.", ["lane"], registry=REGISTRY
)
CENSUS_RESTED_SECONDS = Counter(
    "triage_census_rested_seconds",
    "Seconds the census lane rested to stay within TRIAGE_CENSUS_DUTY_CYCLE.",
    registry=REGISTRY,
)
