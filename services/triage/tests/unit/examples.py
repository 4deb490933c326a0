"""Builds domain situations from the graded-examples table beside the policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import yaml
from shouwang_contracts.instruments import INSTRUMENTS, Instrument
from shouwang_triage.domain.evidence import ClosedCase, ReportEvidence, ScreeningEvidence, Situation
from shouwang_triage.domain.levels import Level

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

# Items a `total:` fill leaves alone: red-flag, key and lie items are only ever set explicitly.
_NOT_FILLED = {
    Instrument.PHQ9: {9},
    Instrument.UPI: {5, 8, 16, 20, 25, 26, 35, 50},
    Instrument.CSSRS_SCREENER: {1, 2, 3, 4, 5, 6},
}
_NOT_COUNTED = {Instrument.UPI: {5, 20, 35, 50}}


def _table() -> dict[str, Any]:
    text = resources.files("shouwang_triage.policy").joinpath("examples.yaml").read_text("utf-8")
    return dict(yaml.safe_load(text))


def load_examples() -> list[dict[str, Any]]:
    return list(_table()["examples"])


def load_sequences() -> list[dict[str, Any]]:
    """The repeat-alert sequences: one student over days, with acknowledgements and closures."""
    return list(_table()["sequences"])


def screening_items(spec: dict[str, Any]) -> tuple[int, ...]:
    """Answers for one screening spec: explicit values, or a total filled on ordinary items."""
    instrument = Instrument(spec["instrument"])
    info = INSTRUMENTS[instrument]
    items = [spec.get("default", info.min_value)] * info.item_count
    for value, numbers in (spec.get("values") or {}).items():
        for n in numbers:
            items[n - 1] = int(value)
    for n, value in (spec.get("set") or {}).items():
        items[int(n) - 1] = int(value)
    blank = {int(n) for n in spec.get("unanswered") or ()}
    if "total" in spec:
        not_counted = _NOT_COUNTED.get(instrument, set())
        fixed = {int(n) for n in (spec.get("set") or {})} | blank
        remaining = spec["total"] - sum(items[n - 1] for n in fixed if n not in not_counted)
        for n in range(1, info.item_count + 1):
            if remaining <= 0:
                break
            if n in fixed or n in _NOT_FILLED.get(instrument, set()):
                continue
            add = min(info.max_value - items[n - 1], remaining)
            items[n - 1] += add
            remaining -= add
        assert remaining == 0, f"cannot fill {spec}"
    for n in blank:  # an unanswered item holds the scale's minimum, as intake sends it
        items[n - 1] = info.min_value
    return tuple(items)


def ago(spec: dict[str, Any], prefix: str = "") -> timedelta:
    """`<prefix>hours_ago` or `<prefix>days_ago` of a spec (0 when neither is given)."""
    return timedelta(hours=spec.get(f"{prefix}hours_ago", 0), days=spec.get(f"{prefix}days_ago", 0))


def situation_from(example: dict[str, Any]) -> Situation:
    reports = tuple(
        ReportEvidence(
            report_id=f"report-{i}",
            reporter_ref=r["reporter"],
            reporter_role=r.get("role", "dorm_leader"),
            signals=frozenset(r["signals"]),
            observed_at=NOW - (ago(r, "observed_") or ago(r)),
            received_at=NOW - ago(r),
            channel=r.get("channel", "observed"),
        )
        for i, r in enumerate(example.get("reports") or [])
    )
    screenings = tuple(
        ScreeningEvidence(
            screening_id=f"screening-{i}",
            instrument=s["instrument"],
            items=screening_items(s),
            administered_at=NOW - ago(s),
            received_at=NOW - ago(s),
            behavior_recency=s.get("behavior_recency"),
            counseling_requested=s.get("counseling_requested"),
            unanswered=frozenset(s.get("unanswered") or ()),
            unreadable=tuple(s.get("unreadable") or ()),
        )
        for i, s in enumerate(example.get("screenings") or [])
    )
    closed = tuple(
        ClosedCase(f"case-{i}", Level.from_id(c["severity"]), NOW - timedelta(days=c["days_ago"]))
        for i, c in enumerate(example.get("closed_cases") or [])
    )
    return Situation(now=NOW, reports=reports, screenings=screenings, closed_cases=closed)
