"""Every Prometheus object triage exposes, in one registry.

Labelled counters are created at 0 for every label set triage can name (severities, triggers,
owner roles; and, per campus, as soon as triage knows the campus: `campus_known`), so that
`increase()` sees the first breach or escalation after a pod starts instead of a series that
appears at 1. Breaches, escalations, re-alerts and open alerts carry the campus, so an alert
can be routed to the campus it concerns.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from shouwang_servicekit.edge import HttpMetrics
from shouwang_servicekit.kafka.progress import ConsumerProgress

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP = HttpMetrics.register("triage", REGISTRY)
# Every consumer's lag, committed offset and records by outcome (measured by the kit).
PROGRESS = ConsumerProgress(REGISTRY)

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
    "Alerts waiting for acknowledgement, by campus and severity.",
    ["campus", "severity"],
    registry=REGISTRY,
)
ESCALATIONS = Counter(
    "triage_escalations",
    "Alerts escalated one tier up because nobody acknowledged in time, by campus, severity and"
    " new owner.",
    ["campus", "severity", "owner_role"],
    registry=REGISTRY,
)
REALERTS = Counter(
    "triage_realerts",
    "Severe and critical alerts re-alerted past the top of the ladder (nobody acknowledged), by"
    " campus and severity.",
    ["campus", "severity"],
    registry=REGISTRY,
)
DEADLINE_BREACHES = Counter(
    "triage_deadline_breaches",
    "Acknowledgement deadlines that passed (each escalation and each top-of-ladder miss), by"
    " campus and severity.",
    ["campus", "severity"],
    registry=REGISTRY,
)
ACKNOWLEDGED = Counter(
    "triage_alerts_acknowledged",
    "Alerts acknowledged, by severity.",
    ["severity"],
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
OUTBOX_LISTENING = Gauge(
    "triage_outbox_relay_listening",
    "1 while this replica leads the outbox lane and hears its commits at once (LISTEN); 0 while"
    " it does not (it follows, or leads polling: then events wait for the safety-net poll).",
    ["lane"],
    registry=REGISTRY,
)
CENSUS_RESTED_SECONDS = Counter(
    "triage_census_rested_seconds",
    "Seconds the census lane rested to stay within TRIAGE_CENSUS_DUTY_CYCLE.",
    registry=REGISTRY,
)

SEVERITIES = ("mild", "moderate", "severe", "critical")
TRIGGERS = ("report", "screening")
# Who an alert can climb to (the default ladder's rungs; a campus ladder may use fewer).
OWNER_ROLES = (
    "residence_counselor",
    "community_psych_teacher",
    "counseling_center",
    "college_leader",
)

for _severity in ("none", *SEVERITIES):
    for _trigger in TRIGGERS:
        GRADED.labels(_severity, _trigger)
for _severity in SEVERITIES:
    ALERTS_RAISED.labels(_severity)
    ACKNOWLEDGED.labels(_severity)
for _trigger in TRIGGERS:
    GRADING_SECONDS.labels(_trigger)
    INPUT_TO_COMMIT_SECONDS.labels(_trigger)

_known_campuses: set[str] = set()


def known_campuses() -> frozenset[str]:
    return frozenset(_known_campuses)


def campus_known(campus: str) -> None:
    """Create the campus's breach, escalation, re-alert and open-alert series at 0 (once)."""
    if campus in _known_campuses:
        return
    _known_campuses.add(campus)
    for severity in SEVERITIES:
        DEADLINE_BREACHES.labels(campus, severity)
        REALERTS.labels(campus, severity)
        ALERTS_OPEN.labels(campus, severity)
        for role in OWNER_ROLES:
            ESCALATIONS.labels(campus, severity, role)
