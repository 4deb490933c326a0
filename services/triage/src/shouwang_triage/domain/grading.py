"""The generic grading engine: apply one policy version to one student's situation."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from .evidence import ReportEvidence, ScreeningEvidence, Situation
from .levels import Level
from .measures import measure
from .policy import CampusSettings, GradingPolicy, Text


@dataclass(frozen=True, slots=True)
class ReasonLine:
    """One rule that contributed to a grade, with the level it alone asks for."""

    rule_id: str
    level: Level
    text: Text


@dataclass(frozen=True, slots=True)
class Grade:
    """A graded situation: the level, the reasons (strongest first) and what it rests on."""

    level: Level
    reasons: tuple[ReasonLine, ...]
    policy_version: str
    report_ids: tuple[str, ...]
    screening_ids: tuple[str, ...]


def grade(policy: GradingPolicy, campus: CampusSettings, situation: Situation) -> Grade:
    """Grade a student's situation by `policy` with a campus's settings.

    Inputs received within the campus window count; for each instrument only the latest
    screening counts (a rescreen supersedes the earlier one). Red flags, weighted signals and
    screening bands each ask for a level; the strongest wins; corroboration and history may
    then lift it. Deterministic: the same situation always gives the same grade and reasons.
    """
    since = situation.now - campus.window
    reports = tuple(
        sorted(
            (r for r in situation.reports if r.received_at >= since),
            key=lambda r: (r.received_at, r.report_id),
        )
    )
    screenings = _latest_per_instrument(s for s in situation.screenings if s.received_at >= since)

    reasons = [
        *_signal_reasons(policy, reports, situation),
        *_weighted_reasons(policy, reports),
        *_screening_reasons(policy, screenings),
    ]
    level = max((r.level for r in reasons), default=Level.NONE)

    corroboration = campus.corroboration
    reporters = {r.reporter_ref for r in reports}
    if level >= Level.MILD and len(reporters) >= corroboration.min_reporters:
        lifted = level.raised_by(corroboration.raise_by, corroboration.ceiling)
        if lifted > level:
            level = lifted
            reasons.append(ReasonLine("corroboration", lifted, corroboration.reason))

    history = campus.history
    if level == history.from_level and any(
        c.severity >= history.min_closed_severity
        and situation.now - history.within <= c.closed_at <= situation.now
        for c in situation.closed_cases
    ):
        level = history.to_level
        reasons.append(ReasonLine("history.recent_closed_case", level, history.reason))

    reasons.sort(key=lambda r: (-r.level, r.rule_id))
    return Grade(
        level=level,
        reasons=tuple(reasons),
        policy_version=policy.version,
        report_ids=tuple(r.report_id for r in reports),
        screening_ids=tuple(s.screening_id for s in screenings),
    )


def _latest_per_instrument(
    screenings: Iterable[ScreeningEvidence],
) -> tuple[ScreeningEvidence, ...]:
    latest: dict[str, ScreeningEvidence] = {}
    for s in screenings:
        current = latest.get(s.instrument)
        if current is None or (s.administered_at, s.screening_id) > (
            current.administered_at,
            current.screening_id,
        ):
            latest[s.instrument] = s
    return tuple(latest[k] for k in sorted(latest))


def _signal_reasons(
    policy: GradingPolicy, reports: tuple[ReportEvidence, ...], situation: Situation
) -> list[ReasonLine]:
    present = frozenset().union(*(r.signals for r in reports))
    lines = []
    for rule in policy.signal_rules:
        signals = present
        if rule.within_hours is not None:
            recent = situation.now - timedelta(hours=rule.within_hours)
            signals = frozenset().union(*(r.signals for r in reports if r.observed_at >= recent))
        if set(rule.all_of) <= signals:
            lines.append(ReasonLine(rule.id, rule.severity, rule.reason))
    return lines


def _weighted_reasons(
    policy: GradingPolicy, reports: tuple[ReportEvidence, ...]
) -> list[ReasonLine]:
    weights = policy.signal_weights
    present = frozenset().union(*(r.signals for r in reports))
    score = sum(weights.weights.get(s, 0) for s in present)
    if score >= weights.moderate_at:
        return [ReasonLine("signals.weighted.moderate", Level.MODERATE, weights.moderate_reason)]
    if score > 0:
        return [ReasonLine("signals.weighted.mild", Level.MILD, weights.mild_reason)]
    return []


def _screening_reasons(
    policy: GradingPolicy, screenings: tuple[ScreeningEvidence, ...]
) -> list[ReasonLine]:
    lines = []
    for screening in screenings:
        scoring = policy.instruments.get(screening.instrument)
        if scoring is None:
            continue
        for rule in policy.screening_rules:
            if rule.instrument == screening.instrument and all(
                measure(screening, scoring, c.measure) >= c.at_least for c in rule.all_of
            ):
                lines.append(ReasonLine(rule.id, rule.severity, rule.reason))
    return lines
