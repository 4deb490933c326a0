"""Numbers the screening rules compare: totals, single items, counts and factor means."""

from __future__ import annotations

from .evidence import BEHAVIOR_RECENCY_RANK, ScreeningEvidence
from .policy import InstrumentScoring


class UnknownMeasure(ValueError):
    """A policy names a measure this engine does not compute."""


def measure(screening: ScreeningEvidence, scoring: InstrumentScoring, name: str) -> float:
    """The value of measure `name` for one screening (see `policy.Condition`)."""
    items = screening.items
    kind, _, arg = name.partition(":")
    match kind:
        case "total":
            excluded = set(scoring.excluded_from_total)
            return float(sum(v for i, v in enumerate(items, start=1) if i not in excluded))
        case "item":
            return float(items[int(arg) - 1])
        case "items_at_least":
            threshold = int(arg)
            return float(sum(1 for v in items if v >= threshold))
        case "factor_mean":
            return _factor_mean(items, scoring.factors[arg])
        case "max_factor_mean":
            return max(_factor_mean(items, f) for f in scoring.factors.values())
        case "counseling_requested":
            return 1.0 if screening.counseling_requested else 0.0
        case "behavior_recency":
            return float(BEHAVIOR_RECENCY_RANK.get(screening.behavior_recency or "never", 0))
    raise UnknownMeasure(name)


def _factor_mean(items: tuple[int, ...], factor: tuple[int, ...]) -> float:
    return sum(items[i - 1] for i in factor) / len(factor)


def check_measure_name(name: str, scoring: InstrumentScoring, item_count: int) -> None:
    """Raise `UnknownMeasure` unless `name` can be computed for this instrument."""
    kind, _, arg = name.partition(":")
    if kind in ("total", "max_factor_mean", "counseling_requested", "behavior_recency"):
        if kind == "max_factor_mean" and not scoring.factors:
            raise UnknownMeasure(f"{name}: {scoring.instrument} has no factors")
        return
    if kind == "item" and arg.isdigit() and 1 <= int(arg) <= item_count:
        return
    if kind == "items_at_least" and arg.isdigit():
        return
    if kind == "factor_mean" and arg in scoring.factors:
        return
    raise UnknownMeasure(f"{name} is not a measure of {scoring.instrument}")
