"""Write Shouwang's Grafana dashboard: `deploy/grafana/shouwang.json` and the monitoring copy.

The dashboard is code so its panels stay consistent (one datasource variable, one layout rule)
and the Kubernetes copy never drifts: kustomize only reads files under the component's folder,
so `deploy/k8s/components/monitoring/shouwang-dashboard.json` is the same JSON written twice.
Run `uv run python deploy/grafana/build_dashboard.py` after editing; a test checks both files
match what this script produces.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUTPUTS = (
    HERE / "shouwang.json",
    HERE.parent / "k8s" / "components" / "monitoring" / "shouwang-dashboard.json",
)
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
RATE = "[$__rate_interval]"
# Endpoints that are not the API: probes and scrapes would drown the request rate.
API = 'route!~"/healthz|/readyz|/metrics"'


def target(expr: str, legend: str, ref: str) -> dict[str, Any]:
    return {"datasource": DATASOURCE, "expr": expr, "legendFormat": legend, "refId": ref}


def panel(
    title: str,
    queries: list[tuple[str, str]],
    *,
    unit: str = "short",
    kind: str = "timeseries",
    description: str = "",
    width: int = 8,
    stack: bool = False,
) -> dict[str, Any]:
    """A panel; `queries` are (PromQL, legend) pairs. Position is set by `layout`."""
    custom: dict[str, Any] = {}
    if kind == "timeseries":
        custom = {"lineWidth": 1, "fillOpacity": 10, "showPoints": "never"}
        if stack:
            custom["stacking"] = {"mode": "normal", "group": "A"}
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "gridPos": {"h": 8, "w": width, "x": 0, "y": 0},
        "fieldConfig": {"defaults": {"unit": unit, "custom": custom}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}}
        if kind == "timeseries"
        else {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}},
        "targets": [
            target(expr, legend, chr(ord("A") + i)) for i, (expr, legend) in enumerate(queries)
        ],
    }


def quantiles(metric: str, by: str = "", selector: str = "") -> list[tuple[str, str]]:
    """p50 and p99 of a histogram, optionally split by one label and filtered by a selector."""
    keep = f"le, {by}" if by else "le"
    suffix = f" {{{{{by}}}}}" if by else ""
    series = f"{metric}_bucket{{{selector}}}" if selector else f"{metric}_bucket"
    return [
        (f"histogram_quantile({q}, sum by ({keep}) (rate({series}{RATE})))", f"p{p}{suffix}")
        for q, p in (("0.5", "50"), ("0.99", "99"))
    ]


def row(title: str) -> dict[str, Any]:
    return {
        "type": "row",
        "title": title,
        "collapsed": False,
        "gridPos": {"h": 1, "w": 24},
        "panels": [],
    }


def sections() -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    overview = [
        panel(
            "Services up",
            [('sum by (job) (up{job=~"intake|triage|triage-census|casework"})', "{{job}}")],
            kind="stat",
            width=6,
            description="Scraped pods answering /metrics, per service.",
        ),
        panel(
            "Critical alerts open",
            [('max(triage_alerts_open{severity="critical"})', "critical")],
            kind="stat",
            width=6,
            description="Critical alerts nobody has acknowledged yet.",
        ),
        panel(
            "Deadline breaches (range)",
            [("sum(increase(triage_deadline_breaches_total[$__range]))", "breaches")],
            kind="stat",
            width=6,
            description="Acknowledgement deadlines missed in the shown range.",
        ),
        panel(
            "Dead letters (range)",
            [
                (
                    # `or vector(0)`: a counter with labels exists only after its first record.
                    "(sum(increase(triage_dead_letters_total[$__range])) or vector(0)) + (sum(increase("
                    'casework_events_consumed_total{result="dead_lettered"}[$__range])) or vector(0))',
                    "dead letters",
                )
            ],
            kind="stat",
            width=6,
            description="Records sent to a .dlq topic in the shown range.",
        ),
    ]
    intake = [
        panel(
            "Intake requests by status",
            [(f"sum by (status) (rate(intake_http_requests_total{{{API}}}{RATE}))", "{{status}}")],
            unit="reqps",
            stack=True,
        ),
        panel(
            "Intake latency",
            quantiles("intake_http_request_duration_seconds", selector=API),
            unit="s",
        ),
        panel(
            "Intake rejections by reason",
            [(f"sum by (reason) (rate(intake_rejections_total{RATE}))", "{{reason}}")],
            unit="reqps",
            stack=True,
            description="503 kafka_unavailable means Kafka did not acknowledge in time.",
        ),
        panel(
            "Events published by topic",
            [(f"sum by (topic) (rate(intake_events_published_total{RATE}))", "{{topic}}")],
            unit="ops",
            description="Events Kafka acknowledged (acks=all).",
        ),
        panel(
            "Census rows",
            [(f"sum by (outcome) (rate(intake_census_rows_total{RATE}))", "{{outcome}}")],
            unit="rowsps",
            stack=True,
        ),
        panel(
            "Kafka acknowledgement latency",
            quantiles("intake_kafka_publish_duration_seconds"),
            unit="s",
        ),
    ]
    triage = [
        panel(
            "Assessments graded by severity",
            [(f"sum by (severity) (rate(triage_assessments_graded_total{RATE}))", "{{severity}}")],
            unit="ops",
            stack=True,
        ),
        panel(
            "Alerts open by severity",
            [("max by (severity) (triage_alerts_open)", "{{severity}}")],
            description="Waiting for acknowledgement (every replica reports the same count: max).",
        ),
        panel(
            "Escalations",
            [
                (
                    f"sum by (severity, owner_role) (increase(triage_escalations_total{RATE}))",
                    "{{severity}} → {{owner_role}}",
                )
            ],
            description="Alerts moved one tier up because nobody acknowledged in time.",
        ),
        panel(
            "Deadline breaches",
            [
                (
                    f"sum by (severity) (increase(triage_deadline_breaches_total{RATE}))",
                    "{{severity}}",
                )
            ],
        ),
        panel(
            "Grading latency",
            quantiles("triage_grading_seconds", "trigger"),
            unit="s",
            description="Grade one input and commit its effects.",
        ),
        panel(
            "Input age at commit",
            quantiles("triage_input_age_at_commit_seconds", "trigger"),
            unit="s",
            description="From the input event's time to its assessment's commit: end-to-end delay.",
        ),
        panel(
            "Consumer lag",
            [
                ("max by (topic) (triage_consumer_lag)", "triage {{topic}}"),
                (
                    'sum by (consumergroup, topic) (kafka_consumergroup_lag{topic=~"shouwang\\\\..*"})',
                    "{{consumergroup}} {{topic}}",
                ),
            ],
            description="Triage's own gauge; the second query needs kafka-exporter (every consumer group).",
        ),
        panel("Triage outbox pending", [("max by (lane) (triage_outbox_pending)", "{{lane}}")]),
        panel(
            "Alerts raised and acknowledged",
            [
                (f"sum(rate(triage_alerts_raised_total{RATE}))", "raised"),
                (f"sum(rate(triage_alerts_acknowledged_total{RATE}))", "acknowledged"),
            ],
            unit="ops",
        ),
    ]
    casework = [
        # The relay that refreshes these gauges runs in one replica at a time: per pod, then max.
        panel(
            "Open cases by state",
            [("max by (state) (sum by (pod, state) (casework_open_cases))", "{{state}}")],
            stack=True,
        ),
        panel(
            "Open cases by severity",
            [("max by (severity) (sum by (pod, severity) (casework_open_cases))", "{{severity}}")],
            stack=True,
        ),
        panel(
            "Case transitions",
            [
                (
                    f"sum by (from_state, to_state) (increase(casework_case_transitions_total{RATE}))",
                    "{{from_state}} → {{to_state}}",
                )
            ],
        ),
        panel(
            "Casework outbox lag",
            [("max(casework_outbox_lag_seconds)", "oldest unpublished")],
            unit="s",
        ),
        panel(
            "Events consumed by result",
            [(f"sum by (result) (rate(casework_events_consumed_total{RATE}))", "{{result}}")],
            unit="ops",
            stack=True,
        ),
        panel(
            "Dead letters by topic",
            [
                (f"sum by (topic) (increase(triage_dead_letters_total{RATE}))", "triage {{topic}}"),
                (
                    f'sum by (topic) (increase(casework_events_consumed_total{{result="dead_lettered"}}{RATE}))',
                    "casework {{topic}}",
                ),
            ],
        ),
    ]
    return [
        (row("Overview"), overview),
        (row("Intake"), intake),
        (row("Triage"), triage),
        (row("Casework"), casework),
    ]


def layout() -> list[dict[str, Any]]:
    """Rows and panels placed left to right, top to bottom, with unique ids."""
    panels: list[dict[str, Any]] = []
    y = 0
    for header, items in sections():
        header["gridPos"].update({"x": 0, "y": y})
        panels.append(header)
        y += 1
        x = 0
        for item in items:
            grid = item["gridPos"]
            if x + grid["w"] > 24:
                x, y = 0, y + grid["h"]
            grid.update({"x": x, "y": y})
            x += grid["w"]
            panels.append(item)
        y += 8
    for number, item in enumerate(panels, start=1):
        item["id"] = number
    return panels


def dashboard() -> dict[str, Any]:
    return {
        "uid": "shouwang-overview",
        "title": "Shouwang (守望) overview",
        "description": "Intake, triage and casework: traffic, grading, alerts and escalation, cases, lag.",
        "tags": ["shouwang"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Prometheus",
                    "type": "datasource",
                    "query": "prometheus",
                }
            ]
        },
        "annotations": {"list": []},
        "panels": layout(),
    }


def render() -> str:
    return json.dumps(dashboard(), ensure_ascii=False, indent=2) + "\n"


def main() -> None:
    text = render()
    for path in OUTPUTS:
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
