"""Write `rules.yml` (Prometheus' own rule-file format, for Docker Compose) from the
PrometheusRule the Kubernetes monitoring component ships: one set of alert rules for both.

    uv run python deploy/prometheus/build_rules.py

The tests fail when the committed file differs from what this writes.
"""

from __future__ import annotations

from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent / "k8s/components/monitoring/prometheus-rules.yaml"
OUTPUT = HERE / "rules.yml"


def render() -> str:
    rule = yaml.safe_load(SOURCE.read_text(encoding="utf-8"))
    header = "# Written by build_rules.py from deploy/k8s/components/monitoring: do not edit.\n"
    return header + yaml.safe_dump(rule["spec"], sort_keys=False, allow_unicode=True, width=100)


if __name__ == "__main__":
    OUTPUT.write_text(render(), encoding="utf-8")
