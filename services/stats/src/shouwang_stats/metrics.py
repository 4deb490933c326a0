"""Every Prometheus object stats exposes, in one registry.

Besides the service's own health (HTTP, folding, rebuilds), `/metrics` carries this year's
outcome figures per campus for the dashboard (`OutcomeGauges`). `/metrics` needs no token, so
they are published exactly as the API publishes them: aggregates per campus, a figure of fewer
than five students left out (with its complements), never anything per student.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from shouwang_servicekit.edge import HttpMetrics
from shouwang_servicekit.kafka.progress import ConsumerProgress

from .service_layer.events import TOPICS

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP = HttpMetrics.register("stats", REGISTRY)
# Every consumer's lag, committed offset and records by outcome (the kit measures them).
PROGRESS = ConsumerProgress(REGISTRY)

EVENTS_FOLDED = Counter(
    "stats_events_folded",
    "Records folded into the projection by the live consumers, by topic.",
    ["topic"],
    registry=REGISTRY,
)
REBUILDS = Counter(
    "stats_rebuilds",
    "Rebuilds of the projection from the topics, by result (succeeded, failed, skipped: another"
    " process was rebuilding).",
    ["result"],
    registry=REGISTRY,
)
LAST_REBUILD_SECONDS = Gauge(
    "stats_last_rebuild_seconds",
    "How long the last rebuild took, from its start to the swap.",
    registry=REGISTRY,
)
LAST_REBUILD_RECORDS = Gauge(
    "stats_last_rebuild_records", "Records the last rebuild replayed.", registry=REGISTRY
)
GENERATION = Gauge(
    "stats_projection_generation",
    "The active generation of the projection, labelled with the rules' version that built it.",
    ["version"],
    registry=REGISTRY,
)

# Every known label set exists from the start, so increase() sees the first event.
for _topic in TOPICS:
    EVENTS_FOLDED.labels(_topic)
for _result in ("succeeded", "failed", "skipped"):
    REBUILDS.labels(_result)


@dataclass(frozen=True, slots=True)
class Sample:
    labels: dict[str, str]
    value: float


#: The outcome gauges: name → (help, labels).
OUTCOME_FAMILIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "stats_events_found": (
        "Crisis events found this calendar year (cases opened), by campus and grade (all: every"
        " grade). A figure of fewer than five students is not exported.",
        ("campus", "grade"),
    ),
    "stats_person_times_relieved": (
        "Person-times relieved this calendar year (completed follow-ups finding the student"
        " relieved), by campus.",
        ("campus",),
    ),
    "stats_cycle_seconds": (
        "Seconds from the report to a milestone for this year's cases, p50 and p90, by campus.",
        ("campus", "milestone", "quantile"),
    ),
}


@dataclass(eq=False)  # a registry keeps its collectors in a set
class OutcomeGauges(Collector):
    """This year's outcomes per campus, as last computed (replaced whole at each refresh)."""

    samples: dict[str, list[Sample]] = field(default_factory=dict)

    def replace(self, samples: dict[str, list[Sample]]) -> None:
        self.samples = samples

    def collect(self) -> Iterator[Metric]:
        for name, (documentation, labels) in OUTCOME_FAMILIES.items():
            family = GaugeMetricFamily(name, documentation, labels=list(labels))
            for sample in self.samples.get(name, []):
                family.add_metric([sample.labels[label] for label in labels], sample.value)
            yield family

    def describe(self) -> Iterable[Metric]:
        return []


OUTCOMES = OutcomeGauges()
REGISTRY.register(OUTCOMES)
