"""Triage's counters exist at 0 before their first event, so that `increase()` sees the first
breach or escalation after a pod starts (a series born at 1 shows no increase)."""

from __future__ import annotations

import subprocess
import sys

from shouwang_triage import metrics


def value(name: str, **labels: str) -> float | None:
    return metrics.REGISTRY.get_sample_value(name, labels)


def test_every_label_set_triage_can_name_starts_at_zero() -> None:
    """In a process of its own: tests that run triage's handlers in this one (the urgent lane's
    deadlock test) count real gradings in the same registry."""
    probe = (
        "from shouwang_triage import metrics\n"
        "get = metrics.REGISTRY.get_sample_value\n"
        "print(get('triage_assessments_graded_total',"
        " {'severity': 'critical', 'trigger': 'screening'}),"
        " get('triage_alerts_raised_total', {'severity': 'severe'}),"
        " get('triage_alerts_acknowledged_total', {'severity': 'mild'}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.split() == ["0.0", "0.0", "0.0"], out.stderr


def test_a_campus_gets_its_breach_and_escalation_series_at_zero_when_triage_first_knows_it() -> (
    None
):
    campus = "metrics-test-campus"
    assert value("triage_deadline_breaches_total", campus=campus, severity="severe") is None
    metrics.campus_known(campus)
    assert value("triage_deadline_breaches_total", campus=campus, severity="severe") == 0
    assert value("triage_realerts_total", campus=campus, severity="critical") == 0
    assert value("triage_alerts_open", campus=campus, severity="critical") == 0
    for role in metrics.OWNER_ROLES:
        assert (
            value("triage_escalations_total", campus=campus, severity="moderate", owner_role=role)
            == 0
        )
    metrics.DEADLINE_BREACHES.labels(campus, "severe").inc()
    metrics.campus_known(campus)  # again: nothing reset
    assert value("triage_deadline_breaches_total", campus=campus, severity="severe") == 1
    assert campus in metrics.known_campuses()
