"""What each policy rule finds in a student's reports and screening sheets.

A finding is one rule that fired, with the level it alone asks for, its reason (filled with
the deciding values) and what it rests on. `grading.grade` keeps the deciding findings of
each band and combines them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from .evidence import ReportEvidence, ScreeningEvidence
from .levels import Level
from .measures import WHOLE_SHEET, fill, measure, shown
from .policy import (
    CHANNEL_TOKEN,
    FAMILY_TOKEN,
    GradingPolicy,
    InstrumentScoring,
    RuleEffects,
    ScreeningRule,
    Text,
)

# How intake reads a side field it could not read (the riskier way), for the reasons.
_UNREADABLE = {
    "administered_at": (
        "测评时间无法识别，按上传时间计",
        "the time was unreadable, taken as the upload time",
    ),
    "behavior_recency": (
        "第6题行为时间无法识别，按近3个月内处理",
        "Q6's recency was unreadable, read as within the past 3 months",
    ),
    "counseling_requested": (
        "咨询意愿无法识别，按未提出处理",
        "the counseling request was unreadable, read as not requested",
    ),
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule that fired: its level, its filled-in reason and what it rests on."""

    rule_id: str
    level: Level
    text: Text
    effects: RuleEffects
    order: tuple[str, int]  # (rule kind, position in the policy file): bands keep the last
    report_ids: frozenset[str] = frozenset()
    screening_id: str | None = None
    # A signal rule completed by a screening's suicide item (a family that includes them)
    # rests on those sheets too.
    sheet_ids: frozenset[str] = frozenset()
    held_by: str | None = None  # an earlier sheet that holds this finding up
    incomplete: bool = False
    suicidality: bool = False  # fired on a suicide item of a screening

    @property
    def band(self) -> tuple[str, str] | None:
        return (self.order[0], self.effects.band) if self.effects.band else None

    @property
    def kind(self) -> str:
        """What the finding is about: its band (one measure at any level) or its rule."""
        return self.effects.band or self.rule_id

    @property
    def rests_on(self) -> frozenset[str]:
        """The reports and the screening sheet this finding rests on."""
        if self.screening_id is None:
            return self.report_ids | self.sheet_ids
        return self.report_ids | self.sheet_ids | {self.screening_id}


def keep_deciding(findings: Iterable[Finding]) -> list[Finding]:
    """Of the findings sharing a band, only the last rule in file order (the highest band)."""
    kept: dict[object, Finding] = {}
    for finding in findings:
        key = finding.band or (finding.order, finding.rule_id)
        current = kept.get(key)
        if current is None or finding.order > current.order:
            kept[key] = finding
    return list(kept.values())


def screening_findings(
    policy: GradingPolicy,
    sheets: Sequence[ScreeningEvidence],
    since: datetime,
    now: datetime,
    zone: tzinfo,
) -> list[Finding]:
    """Screening rules applied to each instrument's sheets.

    A rule reads the latest sheet received within the window that says every measure it
    needs (a later sheet with blanks does not erase an earlier total). A rule on a suicide
    item also reads every sheet administered within that item's look-back window: a later
    sheet never erases an earlier answer while it holds. A sheet with blanks that the rule
    would read but for them (newer than that latest sheet, or within the look-back) fires on
    the floor of its whole-sheet measures, what its answered items already make: a blank
    never hides a band the answers reach.
    """
    by_instrument: dict[str, list[ScreeningEvidence]] = {}
    for sheet in sorted(sheets, key=lambda s: (s.administered_at, s.screening_id), reverse=True):
        by_instrument.setdefault(sheet.instrument, []).append(sheet)
    measured = _Measures()
    found = []
    indexed = [r for instrument in by_instrument for r in policy.screening_rules_of(instrument)]
    for position, rule, scoring, look_back in sorted(indexed, key=lambda r: r[0]):
        history = by_instrument[rule.instrument]
        # The latest sheet in the window that says what the rule reads, and any sheet within
        # the rule's suicide-item look-back.
        latest = next(
            (s for s in history if s.received_at >= since and measured.says_all(rule, scoring, s)),
            None,
        )
        candidates = [latest] if latest is not None else []
        if look_back is not None:
            candidates += [s for s in history if s.administered_at >= now - look_back]
        firing = [s for s in candidates if measured.fires(rule, scoring, s)]
        floors = [
            s
            for s in history
            if s.unanswered
            and _reads_whole_sheet(rule)
            and (
                (s.received_at >= since and (latest is None or _order(s) > _order(latest)))
                or (look_back is not None and s.administered_at >= now - look_back)
            )
            and measured.fires(rule, scoring, s, floor=True)
        ]
        if not firing and not floors:
            continue
        sheet = max([*firing, *floors], key=_order)
        floored = sheet in floors and sheet not in firing
        earlier = sheet is not history[0] or sheet.received_at < since
        values = {
            c.measure: shown(value)
            for c in rule.all_of
            if (value := measured(sheet, scoring, c.measure, floored)) is not None
        }
        text = Text(fill(rule.reason.zh, values), fill(rule.reason.en, values))
        text = _noted(text, sheet, earlier, zone, floored)
        found.append(
            Finding(
                rule.id,
                rule.severity,
                text,
                rule.effects,
                ("screening", position),
                screening_id=sheet.screening_id,
                held_by=sheet.screening_id if earlier else None,
                incomplete=sheet.incomplete,
                suicidality=look_back is not None,
            )
        )
    return found


def _order(sheet: ScreeningEvidence) -> tuple[datetime, str]:
    return (sheet.administered_at, sheet.screening_id)


def _reads_whole_sheet(rule: ScreeningRule) -> bool:
    return any(c.measure.partition(":")[0] in WHOLE_SHEET for c in rule.all_of)


class _Measures:
    """Measures of the sheets being graded, each computed once (many rules read a total)."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, str, bool], float | None] = {}

    def __call__(
        self, sheet: ScreeningEvidence, scoring: InstrumentScoring, name: str, floor: bool = False
    ) -> float | None:
        key = (sheet.screening_id, name, floor)
        if key not in self._known:
            self._known[key] = measure(sheet, scoring, name, floor)
        return self._known[key]

    def says_all(
        self, rule: ScreeningRule, scoring: InstrumentScoring, sheet: ScreeningEvidence
    ) -> bool:
        return all(self(sheet, scoring, c.measure) is not None for c in rule.all_of)

    def fires(
        self,
        rule: ScreeningRule,
        scoring: InstrumentScoring,
        sheet: ScreeningEvidence,
        floor: bool = False,
    ) -> bool:
        for condition in rule.all_of:
            value = self(sheet, scoring, condition.measure, floor)
            if value is None or value < condition.at_least:
                return False
        return True


def _noted(
    text: Text, sheet: ScreeningEvidence, earlier: bool, zone: tzinfo, floored: bool = False
) -> Text:
    """The reason with what a counselor must know about its sheet: blanks (and, when the
    reason rests on a floor, that the full score is at least the one quoted), assumed cells,
    and that an earlier sheet holds it up."""
    zh, en = [], []
    if sheet.unanswered:
        numbers = sorted(sheet.unanswered)
        zh.append(
            "第"
            + "、".join(map(str, numbers))
            + ("题未作答，按已答题目计分，完整得分不低于此" if floored else "题未作答，未计算总分")
        )
        en.append("item" + ("s " if len(numbers) > 1 else " ") + ", ".join(map(str, numbers)))
        en[-1] += (
            " unanswered, scored on the answered items: the full score is at least this"
            if floored
            else " unanswered, no total computed"
        )
    for name in sheet.unreadable:
        zh_note, en_note = _UNREADABLE.get(name, (name, name))
        zh.append(zh_note)
        en.append(en_note)
    if zh:
        text = Text(
            f"{text.zh}（答卷不完整：{'；'.join(zh)}）",
            f"{text.en} (incomplete sheet: {'; '.join(en)})",
        )
    if earlier:
        day = sheet.administered_at.astimezone(zone).date().isoformat()
        text = Text(
            f"{text.zh}（依据 {day} 的较早答卷）", f"{text.en} (from the earlier sheet of {day})"
        )
    return text


def signal_findings(
    policy: GradingPolicy,
    reports: Sequence[ReportEvidence],
    since: datetime,
    now: datetime,
    suicidal_sheets: frozenset[str],
) -> list[Finding]:
    """Signal rules applied to the reports: in the window, or observed within a rule's
    look-back. Signals of different reports combine; `suicidal_sheets` (the sheets on which a
    screening's suicide item fired) add the families that include suicide items, and a rule
    that reads such a family rests on those sheets too. A report's channel is a token too
    (`channel:self_referral`), present while that report is in the pool."""
    from_sheets = (
        {FAMILY_TOKEN + f.name for f in policy.families.values() if f.includes_suicide_items}
        if suicidal_sheets
        else set()
    )
    # One pool of reports per look-back (the window, 90 days of observation, ...), each with
    # the tokens of every report in it, built once for all the rules that read it.
    pools: dict[timedelta | None, list[tuple[ReportEvidence, set[str]]]] = {}
    present_in: dict[timedelta | None, set[str]] = {}
    found = []
    for position, rule in enumerate(policy.signal_rules):
        look_back = rule.observed_within
        if look_back not in pools:
            chosen = (
                [r for r in reports if r.observed_at >= now - look_back]
                if look_back is not None
                else [r for r in reports if r.received_at >= since]
            )
            pools[look_back] = [(r, report_tokens(policy, r)) for r in chosen]
            present_in[look_back] = from_sheets.union(*(t for _, t in pools[look_back]))
        present = present_in[look_back]
        if not set(rule.all_of) <= present:
            continue
        if rule.any_of and present.isdisjoint(rule.any_of):
            continue
        wanted = {*rule.all_of, *rule.any_of}
        found.append(
            Finding(
                rule.id,
                rule.severity,
                rule.reason,
                rule.effects,
                ("signal", position),
                report_ids=frozenset(
                    r.report_id for r, t in pools[look_back] if not t.isdisjoint(wanted)
                ),
                sheet_ids=suicidal_sheets if not from_sheets.isdisjoint(wanted) else frozenset(),
            )
        )
    return found


def tokens(policy: GradingPolicy, signals: Iterable[str]) -> set[str]:
    """Signals and the `family:<name>` tokens of their families."""
    present = set(signals)
    return present | {FAMILY_TOKEN + f for s in present for f in policy.families_of(s)}


def report_tokens(policy: GradingPolicy, report: ReportEvidence) -> set[str]:
    """A report's signal and family tokens, and `channel:<id>`: how its reporter learned of it."""
    return tokens(policy, report.signals) | {CHANNEL_TOKEN + report.channel}


def weighted_findings(policy: GradingPolicy, reports: Sequence[ReportEvidence]) -> list[Finding]:
    """Signals outside the red flags add up, each distinct signal once."""
    weights = policy.signal_weights
    present = frozenset().union(*(r.signals for r in reports))
    score = sum(weights.weights.get(s, 0) for s in present)
    if score <= 0:
        return []
    moderate = score >= weights.moderate_at
    reason = weights.moderate_reason if moderate else weights.mild_reason
    values = {"score": str(score)}
    return [
        Finding(
            "signals.weighted.moderate" if moderate else "signals.weighted.mild",
            Level.MODERATE if moderate else Level.MILD,
            Text(fill(reason.zh, values), fill(reason.en, values)),
            RuleEffects(band="signals.weighted"),
            ("weighted", 0),
            report_ids=frozenset(
                r.report_id for r in reports if not r.signals.isdisjoint(weights.weights)
            ),
        )
    ]
