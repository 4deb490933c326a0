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
# One site per namespace: every query keeps to the sites picked at the top.
SITE = 'namespace=~"$namespace"'
# Campus-labelled series (triage's alerts, stats' outcomes) keep to the campuses picked.
CAMPUS = 'campus=~"$campus"'
# Endpoints that are not the API: probes and scrapes would drown the request rate.
API = f'{SITE}, route!~"/healthz|/readyz|/metrics"'
SERVICES = "intake|triage|triage-census|casework|notify|stats"
# Metric prefixes: the census pods are triage.
HTTP_SERVICES = "intake|triage|casework|notify|stats"
JOBS = f'job=~"{SERVICES}"'
DEPLOYMENTS = f'deployment=~"{SERVICES}"'
CRITICAL = 'severity="critical"'
DEAD_LETTERED = 'outcome="dead_lettered"'
EACH_GRADE = 'grade!="all"'
ALL_GRADES = 'grade="all"'
MEDIAN = 'quantile="p50"'
CLOSED = 'milestone="closed"'


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


def sel(*matchers: str) -> str:
    """A label selector: the site's, plus `matchers`."""
    return "{" + ", ".join((SITE, *matchers)) + "}"


def sections() -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    site = sel()
    overview = [
        panel(
            "Services up",
            [(f"sum by (job) (up{sel(JOBS)})", "{{job}}")],
            kind="stat",
            width=6,
            description="Scraped pods answering /metrics, per service.",
        ),
        panel(
            "Critical alerts open",
            [
                (
                    f"max(triage_alerts_open{sel(CAMPUS, CRITICAL)}) or vector(0)",
                    "critical",
                )
            ],
            kind="stat",
            width=6,
            description="Critical alerts nobody has acknowledged yet.",
        ),
        panel(
            "Deadline breaches (range)",
            [
                (
                    f"sum(increase(triage_deadline_breaches_total{sel(CAMPUS)}[$__range])) or vector(0)",
                    "breaches",
                )
            ],
            kind="stat",
            width=6,
            description="Acknowledgement deadlines missed in the shown range.",
        ),
        panel(
            "Dead letters (range)",
            [
                (
                    f"sum(increase(shouwang_consumer_records_total{sel(DEAD_LETTERED)}[$__range]))"
                    " or vector(0)",
                    "dead letters",
                )
            ],
            kind="stat",
            width=6,
            description="Records any consumer sent to a .dlq topic in the shown range.",
        ),
        panel(
            "Server errors by service",
            [
                (
                    f'sum by (job) (rate({{__name__=~"({HTTP_SERVICES})_http_requests_total",'
                    f' {API}, status=~"5.."}}{RATE}))',
                    "{{job}}",
                )
            ],
            unit="reqps",
            width=12,
            description="5xx answers of every service's API (503: a dependency is away).",
        ),
        panel(
            "Ready replicas",
            [
                (
                    f"sum by (deployment) (kube_deployment_status_replicas_available{sel(DEPLOYMENTS)})",
                    "{{deployment}}",
                )
            ],
            width=12,
            description="Pods passing /readyz (kube-state-metrics). Zero: the service takes no traffic.",
        ),
        panel(
            "Requests refused by rate limits",
            [
                (
                    f'sum by (job, limit) (rate({{__name__=~"({HTTP_SERVICES}|gateway)_rate_limited_total",'
                    f" {SITE}}}{RATE}))",
                    "{{job}} · {{limit}}",
                )
            ],
            unit="reqps",
            width=24,
            description="429s by service and limit: `unauthenticated` (per address, no valid token), `person` and `person_audited_reads` (per signed-in person). Sustained per-person refusals: a token read at machine speed (ShouwangPersonRateLimited).",
        ),
    ]
    outcomes = [
        panel(
            "Crisis events found this year, by grade",
            [
                (
                    f"sum by (grade) (stats_events_found{sel(CAMPUS, EACH_GRADE)})",
                    "{{grade}}",
                )
            ],
            kind="stat",
            width=8,
            description="Cases opened this calendar year by their gravest grade (the seed's table; critical counts as severe). Campuses with fewer than five students in a cell leave it out.",
        ),
        panel(
            "Person-times relieved this year",
            [(f"sum(stats_person_times_relieved{sel(CAMPUS)})", "relieved")],
            kind="stat",
            width=4,
            description="Completed follow-ups that found the student relieved (缓解人次).",
        ),
        panel(
            "Time from report to milestone (p50, this year)",
            [
                (
                    f"max by (milestone) (stats_cycle_seconds{sel(CAMPUS, MEDIAN)})",
                    "{{milestone}}",
                )
            ],
            unit="s",
            kind="stat",
            width=12,
            description="Median time from the report to the alert's acknowledgement, the first intervention and the closed loop, for this year's cases (worst campus shown when several are picked).",
        ),
        panel(
            "Events found by campus",
            [(f"stats_events_found{sel(CAMPUS, ALL_GRADES)}", "{{campus}}")],
            kind="timeseries",
            width=12,
            description="Cases opened this calendar year, per campus.",
        ),
        panel(
            "Cycle to closure by campus (p50)",
            [
                (
                    f"stats_cycle_seconds{sel(CAMPUS, CLOSED, MEDIAN)}",
                    "{{campus}}",
                )
            ],
            unit="s",
            width=12,
            description="Median report → closed loop for this year's cases; month-over-month charts are in the stats API (/v1/outcomes/trends).",
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
            [(f"sum by (reason) (rate(intake_rejections_total{site}{RATE}))", "{{reason}}")],
            unit="reqps",
            stack=True,
            description="503 kafka_unavailable means Kafka did not acknowledge in time.",
        ),
        panel(
            "Events published by topic",
            [(f"sum by (topic) (rate(intake_events_published_total{site}{RATE}))", "{{topic}}")],
            unit="ops",
            description="Events Kafka acknowledged (acks=all).",
        ),
        panel(
            "Census rows",
            [(f"sum by (outcome) (rate(intake_census_rows_total{site}{RATE}))", "{{outcome}}")],
            unit="rowsps",
            stack=True,
        ),
        panel(
            "Kafka acknowledgement latency",
            quantiles("intake_kafka_publish_duration_seconds", selector=SITE),
            unit="s",
        ),
    ]
    triage = [
        panel(
            "Assessments graded by severity",
            [
                (
                    f"sum by (severity) (rate(triage_assessments_graded_total{site}{RATE}))",
                    "{{severity}}",
                )
            ],
            unit="ops",
            stack=True,
        ),
        panel(
            "Alerts open by severity",
            [(f"max by (severity) (triage_alerts_open{sel(CAMPUS)})", "{{severity}}")],
            description="Waiting for acknowledgement (every replica reports the same count: max).",
        ),
        panel(
            "Escalations",
            [
                (
                    f"sum by (severity, owner_role) (increase(triage_escalations_total{sel(CAMPUS)}{RATE}))",
                    "{{severity}} → {{owner_role}}",
                )
            ],
            description="Alerts moved one tier up because nobody acknowledged in time.",
        ),
        panel(
            "Deadline breaches",
            [
                (
                    f"sum by (campus, severity) (increase(triage_deadline_breaches_total{sel(CAMPUS)}{RATE}))",
                    "{{campus}} {{severity}}",
                )
            ],
        ),
        panel(
            "Grading latency",
            quantiles("triage_grading_seconds", "trigger", SITE),
            unit="s",
            description="Grade one input and commit its effects.",
        ),
        panel(
            "Input age at commit",
            quantiles("triage_input_age_at_commit_seconds", "trigger", SITE),
            unit="s",
            description="From the input event's time to its assessment's commit: end-to-end delay.",
        ),
        panel(
            "Triage outbox pending", [(f"max by (lane) (triage_outbox_pending{site})", "{{lane}}")]
        ),
        panel(
            "Alerts raised and acknowledged",
            [
                (f"sum(rate(triage_alerts_raised_total{site}{RATE}))", "raised"),
                (f"sum(rate(triage_alerts_acknowledged_total{site}{RATE}))", "acknowledged"),
            ],
            unit="ops",
        ),
    ]
    consumers = [
        panel(
            "Consumer lag",
            [(f"sum by (group, topic) (shouwang_consumer_lag{site})", "{{group}} {{topic}}")],
            width=12,
            description="End offset minus committed offset, per group and topic, measured on a timer by every consumer for the partitions it holds.",
        ),
        panel(
            "Consumer progress",
            [
                (
                    f"sum by (group, topic) (deriv(shouwang_consumer_committed_offset{site}[5m]))",
                    "{{group}} {{topic}}",
                )
            ],
            unit="ops",
            width=12,
            description="Records committed per second: flat at zero while lag is above zero means stalled.",
        ),
        panel(
            "Records handled by outcome",
            [
                (
                    f"sum by (job, outcome) (rate(shouwang_consumer_records_total{site}{RATE}))",
                    "{{job}} {{outcome}}",
                )
            ],
            unit="ops",
            stack=True,
            width=12,
        ),
        panel(
            "Dead letters by topic",
            [
                (
                    f"sum by (job, topic) (increase(shouwang_consumer_records_total{sel(DEAD_LETTERED)}{RATE}))",
                    "{{job}} {{topic}}",
                )
            ],
            width=12,
        ),
    ]
    casework = [
        # The relay that refreshes these gauges runs in one replica at a time: per pod, then max.
        panel(
            "Open cases by state",
            [(f"max by (state) (sum by (pod, state) (casework_open_cases{site}))", "{{state}}")],
            stack=True,
        ),
        panel(
            "Open cases by severity",
            [
                (
                    f"max by (severity) (sum by (pod, severity) (casework_open_cases{site}))",
                    "{{severity}}",
                )
            ],
            stack=True,
        ),
        panel(
            "Case transitions",
            [
                (
                    f"sum by (from_state, to_state) (increase(casework_case_transitions_total{site}{RATE}))",
                    "{{from_state}} → {{to_state}}",
                )
            ],
        ),
        panel(
            "Casework outbox lag",
            [(f"max(casework_outbox_lag_seconds{site})", "oldest unpublished")],
            unit="s",
        ),
    ]
    return [
        (row("Overview"), overview),
        (row("Outcomes (成效)"), outcomes),
        (row("Intake"), intake),
        (row("Triage"), triage),
        (row("Consumers"), consumers),
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


def variable(name: str, label: str, query: str) -> dict[str, Any]:
    """A multi-value query variable (all selected by default)."""
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "query": {"query": query, "refId": name},
        "definition": query,
        "refresh": 2,
        "multi": True,
        "includeAll": True,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
    }


def dashboard() -> dict[str, Any]:
    return {
        "uid": "shouwang-overview",
        "title": "Shouwang (守望) overview",
        "description": "Outcomes, intake, triage, consumers and casework, per site and campus: traffic, grading, alerts and escalation, cases, lag.",
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
                },
                variable(
                    "namespace", "Site", 'label_values(up{job=~"' + SERVICES + '"}, namespace)'
                ),
                variable("campus", "Campus", "label_values(triage_alerts_open, campus)"),
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
