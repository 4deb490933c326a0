"""Numbers the screening rules compare: totals, single items, counts and factor means."""

from __future__ import annotations

import re

from .evidence import BEHAVIOR_RECENCY_RANK, ScreeningEvidence
from .policy import InstrumentScoring

# Measures summed over the whole sheet. On a sheet with unanswered items (each holding the
# scale's minimum, as intake sends it) they are only a floor: what the answered items already
# make, which the blanks can raise and never lower. `measure` gives them only when asked for
# a floor (`floor=True`): every rule asks "at least", so a floor reaching a band means the
# whole sheet reaches it; a floor is never the sheet's value (it never supersedes a total).
WHOLE_SHEET = ("total", "items_at_least", "factor_mean", "max_factor_mean")
_PLACEHOLDER = re.compile(r"\{([a-z_]+(?::[a-z0-9_]+)?)\}")


class UnknownMeasure(ValueError):
    """A policy names a measure this engine does not compute."""


def measure(
    screening: ScreeningEvidence, scoring: InstrumentScoring, name: str, floor: bool = False
) -> float | None:
    """The value of measure `name` for one screening (see `policy.Condition`).

    None when the sheet does not say it: an unanswered item, or a whole-sheet measure of a
    sheet with unanswered items unless `floor` (then the answered items' lower bound).
    """
    items = screening.items
    kind, _, arg = name.partition(":")
    if kind in WHOLE_SHEET and screening.unanswered and not floor:
        return None
    match kind:
        case "total":
            excluded = set(scoring.excluded_from_total)
            return float(sum(v for i, v in enumerate(items, start=1) if i not in excluded))
        case "item":
            number = int(arg)
            return None if number in screening.unanswered else float(items[number - 1])
        case "items_at_least":
            threshold = int(arg)
            return float(sum(1 for v in items if v >= threshold))
        case "factor_mean":
            return _factor_mean(items, scoring.factors[arg])
        case "max_factor_mean":
            return max(_factor_mean(items, f) for f in scoring.factors.values())
        case "unanswered":
            return 1.0 if int(arg) in screening.unanswered else 0.0
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
    if kind in ("item", "unanswered") and arg.isdigit() and 1 <= int(arg) <= item_count:
        return
    if kind == "items_at_least" and arg.isdigit():
        return
    if kind == "factor_mean" and arg in scoring.factors:
        return
    raise UnknownMeasure(f"{name} is not a measure of {scoring.instrument}")


def placeholders(text: str) -> list[str]:
    """The `{measure}` placeholders of a reason text, e.g. `["total", "item:9"]`."""
    return _PLACEHOLDER.findall(text)


def fill(text: str, values: dict[str, str]) -> str:
    """`text` with each `{name}` replaced by its value (unknown names are left as they are)."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def shown(value: float) -> str:
    """A measure as a counselor reads it: `22`, `2.33`."""
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"
