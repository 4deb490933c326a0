"""No repeat alerts for what an owner already holds.

Once someone acknowledged a student's alert and owns the case, a later input that grades no
graver and rests only on what that alert covered (remembered findings on the evidence the
alert rested on, or findings of the same kind at the same or a lower level) asks nothing new
of anyone: it is graded and published, so casework attaches it to the case, but no alert pages
the ladder again. A graver grade, a deciding finding of a new kind, or a red flag the input
itself carries (a new attempt, plan, preparatory act, 失联, a critical suicide-item answer)
always raises one. The holding ends when the case closes or a newer alert supersedes the
acknowledged one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from .evidence import ClosedCase, ReportEvidence, ScreeningEvidence
from .grading import Grade, ReasonLine
from .levels import Level
from .measures import fill, measure
from .policy import GradingPolicy, Text

COVERED_RULE = "alert.covered"


@dataclass(frozen=True, slots=True)
class HeldAlert:
    """An alert its owner acknowledged and no newer alert superseded.

    What the alert told its owner: `covers`, each reason's kind at the highest level it was
    given, and `evidence`, the reports and sheets its grade rested on. `case_id` is the case
    the acknowledgement named (None when it named none).
    """

    alert_id: str
    level: Level
    acknowledged_at: datetime
    case_id: str | None = None
    covers: Mapping[str, Level] = field(default_factory=dict)
    evidence: frozenset[str] = frozenset()

    def still_held(self, closed_cases: Iterable[ClosedCase]) -> bool:
        """True until its case closes: any closure of that case (casework may close a case
        before its alert is acknowledged), or any closure of the student's cases after the
        acknowledgement (one active case per student; the acknowledgement may name none)."""
        return not any(
            c.case_id == self.case_id or c.closed_at >= self.acknowledged_at for c in closed_cases
        )


@dataclass(frozen=True, slots=True)
class News:
    """What an input tells the owner of a held alert that the alert did not.

    `graver`: the grade rose above the held alert. `red_flags`: red-flag signals or rules the
    input itself carries. `uncovered`: kinds of deciding reasons the held alert did not cover.
    """

    graver: bool = False
    red_flags: tuple[str, ...] = ()
    uncovered: tuple[str, ...] = ()

    @property
    def anything(self) -> bool:
        return self.graver or bool(self.red_flags) or bool(self.uncovered)


def covers_of(result: Grade) -> dict[str, Level]:
    """What an alert raised on `result` covers: each reason's kind at its highest level."""
    covered: dict[str, Level] = {}
    for line in result.reasons:
        covered[line.about] = max(line.level, covered.get(line.about, Level.NONE))
    return covered


def evidence_of(result: Grade) -> frozenset[str]:
    """The reports and sheets an alert raised on `result` rests on."""
    return frozenset(result.report_ids) | frozenset(result.screening_ids)


def red_flags_in(
    policy: GradingPolicy, evidence: ReportEvidence | ScreeningEvidence
) -> tuple[str, ...]:
    """The red flags an input carries by itself: a report's red-flag signals, or the red-flag
    rules that fire on a screening sheet alone (whatever earlier sheets said)."""
    realerts = policy.realerts
    if isinstance(evidence, ReportEvidence):
        return tuple(sorted(evidence.signals & realerts.red_flag_signals))
    fired = []
    for _, rule, scoring, _ in policy.screening_rules_of(evidence.instrument):
        if rule.id not in realerts.red_flag_rules:
            continue
        values = [measure(evidence, scoring, c.measure) for c in rule.all_of]
        if all(v is not None and v >= c.at_least for v, c in zip(values, rule.all_of, strict=True)):
            fired.append(rule.id)
    return tuple(fired)


def news_for(
    policy: GradingPolicy,
    result: Grade,
    evidence: ReportEvidence | ScreeningEvidence,
    held: HeldAlert,
) -> News:
    """What `result`, graded after `evidence` arrived, asks beyond what `held` covers.

    Deciding reasons are those at the grade's level. One is covered when the held alert named
    its kind at that level or higher, or when it rests only on reports and sheets the held
    alert rested on (a remembered red flag, an earlier sheet within its look-back). A concern
    that arrived after the alert is not covered by it, even when it decides the grade only
    later. A lift (corroboration, history) rests on the situation as a whole: only its kind
    covers it.
    """
    uncovered = sorted(
        {
            line.about
            for line in result.reasons
            if line.level == result.level and not _covered(line, held)
        }
    )
    return News(
        graver=result.level > held.level,
        red_flags=red_flags_in(policy, evidence),
        uncovered=tuple(uncovered),
    )


def _covered(line: ReasonLine, held: HeldAlert) -> bool:
    if held.covers.get(line.about, Level.NONE) >= line.level:
        return True
    # A lift (None) rests on the whole situation; a finding on the inputs it names.
    rests_on = line.rests_on
    return rests_on is not None and bool(rests_on) and rests_on <= held.evidence


def covered_reason(policy: GradingPolicy, held: HeldAlert, acknowledged_on: str) -> ReasonLine:
    """Why no alert was raised: the held alert, and when it was acknowledged (a date)."""
    reason = policy.realerts.reason
    values = {"alert": held.alert_id, "acknowledged": acknowledged_on}
    return ReasonLine(
        COVERED_RULE, held.level, Text(fill(reason.zh, values), fill(reason.en, values))
    )
