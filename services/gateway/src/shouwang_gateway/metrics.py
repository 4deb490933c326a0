"""Every prometheus-client object of the gateway."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram
from shouwang_servicekit.edge import HttpMetrics

REGISTRY = CollectorRegistry(auto_describe=True)
HTTP = HttpMetrics.register("gateway", REGISTRY)

SIGN_INS = Counter(
    "gateway_sign_ins_total",
    "Sign-in attempts by method and outcome (ok, refused, throttled).",
    ["method", "outcome"],
    registry=REGISTRY,
)
UPSTREAM_LATENCY = Histogram(
    "gateway_upstream_seconds",
    "Time until a service answered a forwarded request's headers, by service.",
    ["service"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
UPSTREAM_FAILURES = Counter(
    "gateway_upstream_failures_total",
    "Forwarded requests no answer came back for, by service.",
    ["service"],
    registry=REGISTRY,
)

for _method in ("local", "oidc"):
    for _outcome in ("ok", "refused", "throttled"):
        SIGN_INS.labels(_method, _outcome)
